#!/usr/bin/env bash
# Usage: bash scripts/interpreters.sh            (all: 3.11 3.12 3.13 3.13t)
#        bash scripts/interpreters.sh VERSION    (one of 3.11, 3.12, 3.13, 3.13t, 3.14)
#
# Finds (or, for 3.13t, builds) the CPython interpreters memlyze is tested on and
# prints their paths on stdout, one a line, in the order 3.11, 3.12, 3.13, 3.13t.
# An interpreter counts only if it really is that version (3.13t: free-threaded,
# 3.11-3.13: with the GIL), has its headers (Python.h), can create a venv and has
# the bundled pip wheel for ensurepip.
#
# 3.11, 3.12 and 3.13 are looked for in pyenv's versions (`pyenv root`,
# $PYENV_ROOT, ~/.pyenv), then on PATH. 3.13t is taken from the cache,
# ${MEMLYZE_CACHE:-$HOME/.cache/memlyze}/python-3.13t, or else built there from
# the upstream CPython source in Debian trixie's python3.13 source package
# (fetched with a private apt configuration; the system's apt is not touched;
# Debian's patches are not applied). The build log is python-3.13t-build.log in
# the cache.
#
# 3.14 is not supported by memlyze and so not in the default list: it is the
# interpreter tests/python/test_unsupported_interpreter.py checks the build's
# refusal with. It is Debian forky's build, taken from the cache,
# ${MEMLYZE_CACHE:-$HOME/.cache/memlyze}/python-3.14, or else made there from
# forky's binary packages (forky's source package is not on the mirror): they
# need glibc 2.38 and OpenSSL 3.4 (bookworm has 2.36 and 3.0), so forky's C
# library and the other shared libraries it links are unpacked beside it, and
# patchelf points the interpreter at that ld.so and those libraries. About 25 MB
# are downloaded; the log is python-3.14-fetch.log in the cache.
#
# Everything but the paths goes to stderr. An interpreter that cannot be had is
# reported on stderr with the reason and left out of stdout; the exit status is
# non-zero only when 3.11 is missing (or the usage is wrong).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/_common.sh
source "$REPO_ROOT/scripts/_common.sh"

ALL_VERSIONS=(3.11 3.12 3.13 3.13t)
EXTRA_VERSIONS=(3.14)  # only when asked for by name
CACHE_DIR=${MEMLYZE_CACHE:-$HOME/.cache/memlyze}
FREE_THREADED_PREFIX=$CACHE_DIR/python-3.13t
BUILD_LOG=$CACHE_DIR/python-3.13t-build.log
SOURCE_DIR=$CACHE_DIR/python-3.13t-source
PY314_ROOT=$CACHE_DIR/python-3.14
PY314_APT_DIR=$CACHE_DIR/python-3.14-apt
PY314_LOG=$CACHE_DIR/python-3.14-fetch.log
# What `apt-get install python3.14-dev python3.14-venv` brings of Python (with
# the pip wheel ensurepip installs), and the shared libraries its interpreter
# and extension modules link, from libc6 on, as forky has them.
PY314_PACKAGES=(python3.14 python3.14-minimal python3.14-dev python3.14-venv libpython3.14
    libpython3.14-minimal libpython3.14-stdlib libpython3.14-dev python3-pip-whl
    libc6 libssl3t64 libexpat1 zlib1g libbz2-1.0 libdb5.3t64 libffi8 liblzma5 libncursesw6
    libreadline8t64 libsqlite3-0 libtinfo6 libuuid1 libzstd1)
DEBIAN_ARCHIVE_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
BUILD_PACKAGES=(build-essential dpkg-dev pkg-config xz-utils libssl-dev zlib1g-dev libbz2-dev
    libreadline-dev libsqlite3-dev libffi-dev liblzma-dev uuid-dev libgdbm-dev libncurses-dev)

# Set by find_interpreter: the interpreter found, or why there is none.
found_path=""
failure_reason=""

# The facts checked about a candidate, one a line: version, implementation,
# Py_GIL_DISABLED (0/1), sys._is_gil_enabled() (None before 3.13), whether
# Python.h is in the include directory, how many pip wheels ensurepip bundles,
# the include directory, sys.executable.
INTERPRETER_FACTS='
import glob, os, sys, sysconfig
include = sysconfig.get_paths()["include"]
gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else None
try:
    import ensurepip
    wheels = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl"))
    wheels += glob.glob("/usr/share/python-wheels/pip-*.whl")  # Debian python3.X-venv package
    wheels += glob.glob(os.path.join(sysconfig.get_config_var("WHEEL_PKG_DIR") or "/nonexistent", "pip-*.whl"))
except ImportError:
    wheels = []
print("%d.%d" % sys.version_info[:2])
print(sys.implementation.name)
print(int(bool(sysconfig.get_config_var("Py_GIL_DISABLED"))))
print(gil)
print(int(os.path.isfile(os.path.join(include, "Python.h"))))
print(len(wheels))
print(include)
print(sys.executable)
'

print_usage() {
    local IFS='|'
    printf 'usage: bash scripts/interpreters.sh [%s]\n' "${ALL_VERSIONS[*]}|${EXTRA_VERSIONS[*]}"
}

# error_summary: the telling line of an error output on stdin (a fatal error's
# first line, else the last non-empty line, as of a traceback).
error_summary() {
    awk 'NF { last = $0; if (first == "") first = $0 }
        END { print (first ~ /^Fatal Python error/ ? first : last) }'
}

report_missing() {
    printf 'interpreters.sh: CPython %s not available: %s\n' "$1" "$2"
}

# check_venv PYTHON: creates a throwaway venv (without pip; the bundled wheel
# is checked separately) and runs its python.
check_venv() {
    local python=$1 scratch output status=0
    scratch=$(mktemp -d)
    if ! output=$("$python" -m venv --without-pip "$scratch/venv" 2>&1); then
        failure_reason="'$python -m venv' failed: $(printf '%s\n' "$output" | error_summary)"
        status=1
    elif ! "$scratch/venv/bin/python" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)' 2>/dev/null; then
        failure_reason="the venv made by '$python -m venv' does not run as a venv"
        status=1
    fi
    rm -rf "$scratch"
    return "$status"
}

# check_interpreter VERSION PYTHON: succeeds when PYTHON is a usable CPython
# VERSION; otherwise sets failure_reason. Sets found_path to its sys.executable.
check_interpreter() {
    local version=$1 python=$2 facts output
    local want_version=${version%t} want_gil_disabled=0 want_gil_enabled condition=""
    local -a environment=(env -u PYTHON_GIL)
    case "$version" in
        3.11|3.12) want_gil_enabled=None ;;
        3.13|3.14) want_gil_enabled=True ;;
        3.13t) want_gil_disabled=1 want_gil_enabled=False environment=(env PYTHON_GIL=0) condition=" under PYTHON_GIL=0" ;;
    esac
    if ! output=$("${environment[@]}" "$python" -c "$INTERPRETER_FACTS" 2>/dev/null); then
        output=$("${environment[@]}" "$python" -c "$INTERPRETER_FACTS" 2>&1 >/dev/null | error_summary || true)
        failure_reason="$python does not run: $output"
        return 1
    fi
    mapfile -t facts <<<"$output"
    if [ "${facts[0]}" != "$want_version" ] || [ "${facts[1]}" != cpython ]; then
        failure_reason="$python is ${facts[1]} ${facts[0]}, not CPython $want_version"
        return 1
    fi
    if [ "${facts[2]}" != "$want_gil_disabled" ] || [ "${facts[3]}" != "$want_gil_enabled" ]; then
        failure_reason="$python has Py_GIL_DISABLED=${facts[2]} and sys._is_gil_enabled()=${facts[3]}$condition, wanted $want_gil_disabled and $want_gil_enabled"
        return 1
    fi
    if [ "${facts[4]}" != 1 ]; then
        failure_reason="$python has no headers: no Python.h in ${facts[6]}"
        return 1
    fi
    if [ "${facts[5]}" = 0 ]; then
        failure_reason="$python has no bundled pip wheel for ensurepip"
        return 1
    fi
    check_venv "$python" || return 1
    found_path=${facts[7]}
}

# pyenv_roots: the pyenv roots there are, one a line, without duplicates.
pyenv_roots() {
    {
        if command -v pyenv >/dev/null 2>&1; then
            pyenv root 2>/dev/null || true
        fi
        printf '%s\n' "${PYENV_ROOT:-}" "$HOME/.pyenv"
    } | awk 'NF && !seen[$0]++' | while read -r root; do
        [ -d "$root/versions" ] && printf '%s\n' "$root"
    done
}

# candidate_interpreters VERSION: the executables that may be CPython VERSION,
# newest pyenv versions first, then what is on PATH.
candidate_interpreters() {
    local version=$1 root
    local executable=python$version
    while read -r root; do
        find "$root/versions" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -rV | while read -r name; do
            if [ -x "$root/versions/$name/bin/$executable" ]; then
                printf '%s\n' "$root/versions/$name/bin/$executable"
            fi
        done
    done < <(pyenv_roots)
    if command -v "$executable" >/dev/null 2>&1; then
        command -v "$executable"
    fi
}

# find_existing_interpreter VERSION: sets found_path to the first usable
# candidate, or failure_reason to why each candidate was rejected.
find_existing_interpreter() {
    local version=$1 candidate roots reasons=()
    while read -r candidate; do
        if check_interpreter "$version" "$candidate"; then
            return 0
        fi
        reasons+=("$failure_reason")
    done < <(candidate_interpreters "$version")
    if [ "${#reasons[@]}" -eq 0 ]; then
        roots=$(pyenv_roots | paste -sd ' ')
        failure_reason="no python$version in pyenv's versions (${roots:-no pyenv root found}) nor on PATH"
    else
        failure_reason=$(IFS=';'; printf 'no usable candidate:%s' "${reasons[*]/#/ }")
    fi
    return 1
}

# apt_source_entries: "URI SUITE COMPONENTS..." for each enabled deb/deb-src
# entry of the machine's apt sources, one-line and deb822 formats alike.
apt_source_entries() {
    local file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$file" ] || continue
        # deb [options] URI SUITE COMPONENT...
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$file" | awk '$1 == "deb" || $1 == "deb-src" { $1 = ""; print }'
    done
    for file in /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
            {
                delete field
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^#/ || !match($i, /^[A-Za-z-]+:/)) continue
                    key = tolower(substr($i, 1, RLENGTH - 1))
                    value = substr($i, RLENGTH + 1)
                    gsub(/^[ \t]+|[ \t]+$/, "", value)
                    field[key] = value
                }
                if (tolower(field["enabled"]) == "no" || field["types"] !~ /deb/) next
                uri_count = split(field["uris"], uris, /[ \t]+/)
                suite_count = split(field["suites"], suites, /[ \t]+/)
                for (u = 1; u <= uri_count; u++)
                    for (s = 1; s <= suite_count; s++)
                        print uris[u], suites[s], field["components"]
            }' "$file"
    done
}

# find_debian_mirror: prints the URI of the first Debian archive mirror (an
# entry for a Debian release itself, with component main) in the apt sources.
find_debian_mirror() {
    local uri suite components
    while read -r uri suite components; do
        case "$uri" in http://*|https://*|ftp://*|file:*) ;; *) continue ;; esac
        case "$suite" in
            buster|bullseye|bookworm|trixie|forky|sid|oldstable|stable|testing|unstable) ;;
            *) continue ;;
        esac
        case " $components " in *" main "*) printf '%s\n' "${uri%/}"; return 0 ;; esac
    done < <(apt_source_entries)
    return 1
}

# private_apt_get APT_DIR ARGS...: apt-get with its own sources list, lists,
# cache and (empty) dpkg status under APT_DIR, so that the system's apt state
# stays as it is and the packages installed here do not change what is fetched.
private_apt_get() {
    local apt_dir=$1
    shift
    apt-get -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" \
        -o Dir::State::status="$apt_dir/status" -o APT::Sandbox::User="$(id -un)" "$@"
}

# private_apt_setup APT_DIR TYPE SUITE LOG: a new APT_DIR whose sources list has
# the entry "TYPE MIRROR SUITE main" for the machine's Debian mirror, updated
# (LOG gets apt's output); on failure sets failure_reason.
private_apt_setup() {
    local apt_dir=$1 type=$2 suite=$3 log=$4 mirror options="" entry lists
    if ! mirror=$(find_debian_mirror); then
        failure_reason="no Debian archive mirror (an entry for a Debian release with component main) in /etc/apt/sources.list or /etc/apt/sources.list.d/*.list|*.sources"
        return 1
    fi
    [ -f "$DEBIAN_ARCHIVE_KEYRING" ] && options="[signed-by=$DEBIAN_ARCHIVE_KEYRING] "
    entry="$type $options$mirror $suite main"
    rm -rf "$apt_dir"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    : >"$apt_dir/status"
    printf '%s\n' "$entry" >"$apt_dir/sources.list"
    case "$type" in deb-src) lists="*Sources*" ;; *) lists="*Packages*" ;; esac
    # An archived (snapshot) mirror's Release file has expired: retry without the date check.
    if ! private_apt_get "$apt_dir" update >>"$log" 2>&1 || ! compgen -G "$apt_dir/lists/$lists" >/dev/null; then
        if ! private_apt_get "$apt_dir" -o Acquire::Check-Valid-Until=false update >>"$log" 2>&1 \
            || ! compgen -G "$apt_dir/lists/$lists" >/dev/null; then
            failure_reason="apt-get update of '$entry' failed: $(grep -E '^(E|W):' "$log" | tail -n 2 | tr '\n' ' ')"
            return 1
        fi
    fi
}

# fetch_python_source_package: downloads trixie's python3.13 source package into
# $SOURCE_DIR/download (kept for later builds).
fetch_python_source_package() {
    if compgen -G "$SOURCE_DIR/download/python3.13_*.dsc" >/dev/null; then
        return 0
    fi
    rm -rf "$SOURCE_DIR/download"
    step "Fetching Debian trixie's python3.13 source package"
    private_apt_setup "$SOURCE_DIR/apt" deb-src trixie "$BUILD_LOG" || return 1
    mkdir -p "$SOURCE_DIR/download"
    if ! (cd "$SOURCE_DIR/download" && private_apt_get "$SOURCE_DIR/apt" source --download-only python3.13) >>"$BUILD_LOG" 2>&1; then
        failure_reason="apt-get source --download-only python3.13 failed: $(grep -E '^(E|W):' "$BUILD_LOG" | tail -n 2 | tr '\n' ' ')"
        rm -rf "$SOURCE_DIR/download"
        return 1
    fi
}

# run_build_step NAME COMMAND...: runs COMMAND with its output in the build log;
# on failure sets failure_reason with the log's last lines.
run_build_step() {
    local name=$1
    shift
    printf '\n==> %s: %s\n' "$name" "$*" >>"$BUILD_LOG"
    if ! "$@" >>"$BUILD_LOG" 2>&1; then
        failure_reason="$name failed (log: $BUILD_LOG); its last lines:
$(tail -n 15 "$BUILD_LOG")"
        return 1
    fi
}

# build_free_threaded_python: configures, builds and installs CPython 3.13 with
# --disable-gil into $FREE_THREADED_PREFIX.
build_free_threaded_python() {
    local build_dir=$SOURCE_DIR/build dsc
    ensure_apt_packages "${BUILD_PACKAGES[@]}"
    fetch_python_source_package || return 1
    dsc=$(compgen -G "$SOURCE_DIR/download/python3.13_*.dsc" | sort -V | tail -n 1)
    step "Building free-threaded CPython from $(basename "$dsc") (log: $BUILD_LOG)"
    rm -rf "$build_dir" "$FREE_THREADED_PREFIX"
    # --skip-patches: the upstream source as released; Debian's patches change the
    # install layout and disable ensurepip outside venvs.
    if ! run_build_step "dpkg-source -x" dpkg-source --skip-patches -x "$dsc" "$build_dir"; then
        rm -rf "$SOURCE_DIR/download"  # a broken download is fetched again next time
        return 1
    fi
    if ! run_build_step configure env -C "$build_dir" ./configure --disable-gil \
            --prefix="$FREE_THREADED_PREFIX" --with-ensurepip=install ||
        ! run_build_step make make -C "$build_dir" -j"$(nproc)" ||
        ! run_build_step "make install" make -C "$build_dir" install; then
        rm -rf "$FREE_THREADED_PREFIX"
        return 1
    fi
    rm -rf "$build_dir"
}

# find_free_threaded_interpreter: sets found_path to the cached free-threaded
# build (building it when it is missing or broken), or failure_reason.
find_free_threaded_interpreter() {
    local python=$FREE_THREADED_PREFIX/bin/python3.13t
    if [ -x "$python" ] && check_interpreter 3.13t "$python"; then
        return 0
    fi
    if [ -e "$FREE_THREADED_PREFIX" ]; then
        step "The cached $python is not usable ($failure_reason); building it again"
    fi
    mkdir -p "$CACHE_DIR"
    : >"$BUILD_LOG"
    local started=$SECONDS
    build_free_threaded_python || return 1
    step "Built $python in $((SECONDS - started)) s"
    if ! check_interpreter 3.13t "$python"; then
        failure_reason="the new build is not usable: $failure_reason"
        return 1
    fi
}

# unpack_python314: downloads forky's packages of CPython 3.14 and the libraries
# it needs and unpacks them into $PY314_ROOT (no maintainer scripts are run).
unpack_python314() {
    local lib=$PY314_ROOT/usr/lib/x86_64-linux-gnu package
    ensure_apt_packages patchelf
    step "Fetching Debian forky's CPython 3.14 packages (log: $PY314_LOG)"
    private_apt_setup "$PY314_APT_DIR" deb forky "$PY314_LOG" || return 1
    if ! (cd "$PY314_APT_DIR/cache/archives" && private_apt_get "$PY314_APT_DIR" download "${PY314_PACKAGES[@]}") >>"$PY314_LOG" 2>&1; then
        failure_reason="apt-get download of forky's ${PY314_PACKAGES[*]} failed: $(grep -E '^(E|W):' "$PY314_LOG" | tail -n 2 | tr '\n' ' ')"
        return 1
    fi
    rm -rf "$PY314_ROOT"
    for package in "$PY314_APT_DIR"/cache/archives/*.deb; do
        run_build_step "dpkg-deb -x $(basename "$package")" dpkg-deb -x "$package" "$PY314_ROOT" || return 1
    done
    # The interpreter is linked statically with libpython; its own ELF
    # interpreter and RPATH (which extension modules' libraries are looked for
    # in too, unlike RUNPATH) make it load forky's C library instead of the system's.
    run_build_step patchelf patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" \
        --force-rpath --set-rpath "$lib" "$PY314_ROOT/usr/bin/python3.14" || return 1
    # ensurepip takes pip from WHEEL_PKG_DIR, built in as /usr/share/python-wheels,
    # which on this system holds bookworm's older pip: point it at forky's.
    local sysconfigdata=$PY314_ROOT/usr/lib/python3.14/_sysconfigdata__linux_x86_64-linux-gnu.py
    run_build_step "WHEEL_PKG_DIR" sed -i \
        "s|'WHEEL_PKG_DIR': '/usr/share/python-wheels/'|'WHEEL_PKG_DIR': '$PY314_ROOT/usr/share/python-wheels/'|" \
        "$sysconfigdata" || return 1
    run_build_step "WHEEL_PKG_DIR check" grep -qF "'WHEEL_PKG_DIR': '$PY314_ROOT/" "$sysconfigdata" || return 1
    rm -rf "$PY314_APT_DIR"
}

# find_python314: sets found_path to the cached 3.14 (fetching it when it is
# missing or broken), or failure_reason.
find_python314() {
    local python=$PY314_ROOT/usr/bin/python3.14 started=$SECONDS
    if [ -x "$python" ] && check_interpreter 3.14 "$python"; then
        return 0
    fi
    if [ -e "$PY314_ROOT" ]; then
        step "The cached $python is not usable ($failure_reason); fetching it again"
    fi
    : >"$PY314_LOG"
    # run_build_step writes to $BUILD_LOG.
    BUILD_LOG=$PY314_LOG unpack_python314 || { rm -rf "$PY314_ROOT"; return 1; }
    step "Unpacked $python in $((SECONDS - started)) s"
    if ! check_interpreter 3.14 "$python"; then
        failure_reason="the unpacked interpreter is not usable: $failure_reason"
        return 1
    fi
}

# find_interpreter VERSION: sets found_path, or failure_reason.
find_interpreter() {
    local version=$1 status=0
    found_path=""
    failure_reason=""
    case "$version" in
        3.13t|3.14)
            # One build or fetch at a time; a second caller waits and then finds the cache.
            mkdir -p "$CACHE_DIR"
            exec 9>"$CACHE_DIR/python-$version.lock"
            flock 9
            if [ "$version" = 3.13t ]; then
                find_free_threaded_interpreter || status=$?
            else
                find_python314 || status=$?
            fi
            exec 9>&-
            return "$status" ;;
    esac
    find_existing_interpreter "$version"
}

main() {
    local versions=("${ALL_VERSIONS[@]}") version status=0
    case "$#" in
        0) ;;
        1)
            case " ${ALL_VERSIONS[*]} ${EXTRA_VERSIONS[*]} " in
                *" $1 "*) versions=("$1") ;;
                *) print_usage >&2; exit 2 ;;
            esac ;;
        *) print_usage >&2; exit 2 ;;
    esac
    # stdout carries only the paths (on fd 3); helpers such as step print to stdout.
    exec 3>&1 1>&2
    for version in "${versions[@]}"; do
        if find_interpreter "$version"; then
            printf '%s\n' "$found_path" >&3
        else
            report_missing "$version" "$failure_reason"
            [ "$version" = 3.11 ] && status=1
        fi
    done
    return "$status"
}

main "$@"
