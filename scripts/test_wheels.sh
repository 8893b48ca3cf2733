#!/usr/bin/env bash
# Tests what scripts/build_wheels.sh made in OUTDIR, as a user without a
# compiler would meet it:
#   - each wheel: `auditwheel show` gives a manylinux tag; installed with
#     `pip install --no-index --only-binary=:all:` into a fresh venv of the
#     matching interpreter (no build tools in it, nothing built), its extension
#     module loads libzstd, libunwind and libdw from the wheel's memlyze.libs/
#     (ldd), and `memlyze run` + `memlyze summary` of the bundled example give
#     its real figures, also with --native (unwound by the bundled libunwind,
#     symbolised by the bundled libdw);
#   - the sdist: holds no build or venv directories, and a wheel builds from
#     it with CPython 3.11 that has the same package files as the cp311 wheel.
# The wheels' dependencies (textual and what it needs, pure Python) are
# downloaded as wheels first, so the install itself needs no index.
#
#   Usage: bash scripts/test_wheels.sh OUTDIR
#
# Exits non-zero if any check fails; each failure is one line naming the
# wheel (or the sdist) and what was wrong.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/_common.sh
source "$REPO_ROOT/scripts/_common.sh"

EXAMPLE=$REPO_ROOT/examples/image_cache.py
MIB=1048576
# The example's peak: 40 cached images of 1.5 MiB, one 4 MiB scratch buffer
# and 39 thumbnails of 64 KiB, plus the interpreter's own bits: 66.5 MiB, the
# figure of the README's summary and of the test suite's flame graph fixture
# (tests/python/flame_fixture.py, "peak 66.5 MiB" in test_flamegraph_page.py).
EXPECTED_PEAK_BYTES=$((40 * 3 * MIB / 2 + 4 * MIB + 39 * 64 * 1024))
PEAK_TOLERANCE_BYTES=$((MIB + MIB / 2))
BUNDLED_LIBRARIES=(libzstd libunwind libdw)
# What must never be in the sdist: build trees, venvs, test output, captures.
SDIST_FORBIDDEN='/(build|build-[^/]*|\.venv[^/]*|\.mesonpy-[^/]*|__pycache__|\.pytest_cache|test-output|corpus-run)(/|$)|\.mlyze$'
SDIST_REQUIRED=(PKG-INFO pyproject.toml meson.build meson.options src/core/meson.build
    src/binding/meson.build src/memlyze/meson.build src/memlyze/__init__.py README.md)

# What is under test (a wheel's or the sdist's file name): die's one line
# names it, so that each failure says which artefact it is about.
subject=""
die() {
    printf 'error: %s%s\n' "${subject:+$subject: }" "$*" >&2
    exit 1
}

usage() {
    printf 'usage: bash scripts/test_wheels.sh OUTDIR\n' >&2
    exit 2
}

# site_packages VENV: the venv's site-packages directory.
site_packages() {
    "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])'
}

# check_bundled_libraries SO SITE_PACKAGES: ldd of the extension module must
# resolve each of BUNDLED_LIBRARIES to the copy in SITE_PACKAGES/memlyze.libs.
check_bundled_libraries() {
    local so=$1 libs_dir=$2/memlyze.libs ldd_output library line resolved
    ldd_output=$(ldd "$so") || die "ldd $so failed"
    if grep -q 'not found' <<<"$ldd_output"; then
        die "ldd $so: $(grep 'not found' <<<"$ldd_output" | head -n 1 | sed 's/^[[:space:]]*//')"
    fi
    for library in "${BUNDLED_LIBRARIES[@]}"; do
        # auditwheel renames a bundled library <name>-<hash>...: libdw-0-f770356f.188.so
        line=$(grep -E "^[[:space:]]*$library[-.]" <<<"$ldd_output" | head -n 1) \
            || die "ldd $so lists no $library"
        resolved=$(awk '{ print $3 }' <<<"$line")
        resolved=$(readlink -f "$resolved")
        case "$resolved" in
            "$libs_dir"/*) ;;
            *) die "$library resolves to $resolved, not to the wheel's $libs_dir: $line" ;;
        esac
        printf '  ldd: %s\n' "$(sed 's/^[[:space:]]*//; s/ (0x[0-9a-f]*)$//' <<<"$line")"
    done
}

# check_summary SUMMARY_FILE COUNT: the summary names decode of the example
# first, holding the 40 images (60.0 MiB) in COUNT allocations.
check_summary() {
    local summary=$1 count=$2 first_row
    grep -q "^Peak memory " "$summary" || die "memlyze summary printed no 'Peak memory' line: $(head -n 3 "$summary" | tr '\n' ' ')"
    # The row under the table's rule of dashes (as wide as its columns).
    first_row=$(awk '/^ +-+ +-+ +-+ +-+$/ { getline; print; exit }' "$summary")
    case "$first_row" in
        *"60.0 MiB"*" $count  decode $EXAMPLE:"*) ;;
        *) die "the summary's first location is not decode of $EXAMPLE holding 60.0 MiB in $count allocations: '$first_row'" ;;
    esac
}

# check_peak VENV CAPTURE: the capture's exact peak (FileReader) is within
# PEAK_TOLERANCE_BYTES of EXPECTED_PEAK_BYTES; prints it.
check_peak() {
    local venv=$1 capture=$2 peak_bytes
    peak_bytes=$("$venv/bin/python" -c 'import sys, memlyze; print(memlyze.FileReader(sys.argv[1]).summary["peak_bytes"])' "$capture") \
        || die "memlyze.FileReader could not read $capture"
    if [ "$peak_bytes" -lt $((EXPECTED_PEAK_BYTES - PEAK_TOLERANCE_BYTES)) ] \
        || [ "$peak_bytes" -gt $((EXPECTED_PEAK_BYTES + PEAK_TOLERANCE_BYTES)) ]; then
        die "peak $peak_bytes bytes, expected $EXPECTED_PEAK_BYTES ± $PEAK_TOLERANCE_BYTES"
    fi
    printf '  peak: %s bytes (%s MiB), expected %s ± %s\n' "$peak_bytes" \
        "$(awk -v b="$peak_bytes" 'BEGIN { printf "%.2f", b / 1048576 }')" "$EXPECTED_PEAK_BYTES" "$PEAK_TOLERANCE_BYTES"
}

# test_wheel WHEEL: every check of one wheel (run in a subshell: die ends it).
test_wheel() {
    local wheel=$1 wheel_name abi_tag version python work venv site so show_output platform_tag decode_count=40
    wheel_name=$(basename "$wheel")
    subject=$wheel_name
    # memlyze-VERSION-PYTHONTAG-ABITAG-PLATFORM.whl; 3.13t's ABI tag is cp313t.
    abi_tag=$(awk -F- '{ print $4 }' <<<"$wheel_name")
    case "$abi_tag" in
        cp3[0-9][0-9]|cp3[0-9][0-9]t) version=3.${abi_tag#cp3} ;;
        *) die "$wheel_name: unexpected ABI tag '$abi_tag'" ;;
    esac
    # A free-threaded build records the Python allocator domains in every
    # mode, so each image is two allocations: the bytearray object and its buffer.
    case "$abi_tag" in *t) decode_count=80 ;; esac
    work=$scratch/$abi_tag
    mkdir -p "$work/run"
    step "Testing $wheel_name"

    show_output=$(env PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" show "$wheel" 2>&1) \
        || die "auditwheel show failed: $(tail -n 1 <<<"$show_output")"
    # auditwheel wraps its sentences: join the lines before matching.
    platform_tag=$(tr '\n' ' ' <<<"$show_output" | grep -oE 'consistent with +the +following +platform +tag: +"manylinux_[0-9]+_[0-9]+_x86_64"' \
        | grep -oE 'manylinux_[0-9]+_[0-9]+_x86_64') \
        || die "auditwheel show gives no manylinux_ tag: $(tr '\n' ' ' <<<"$show_output" | grep -oE 'consistent with +the +following +platform +tag: +"[^"]*"' || tail -n 1 <<<"$show_output")"
    case "$wheel_name" in
        *"-$platform_tag.whl") ;;
        *) die "the file name's platform tag differs from auditwheel show's $platform_tag" ;;
    esac
    printf '  auditwheel show: consistent with the following platform tag: "%s"\n' "$platform_tag"

    python=$(bash "$REPO_ROOT/scripts/interpreters.sh" "$version") || true
    [ -n "$python" ] || die "no CPython $version interpreter to install $wheel_name into (see above)"
    venv=$work/venv
    "$python" -m venv "$venv"
    # The dependencies from the index, as wheels only; then the install with
    # no index and no source builds allowed.
    "$venv/bin/python" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
        --dest "$work/dependencies" "$wheel" || die "pip download of the dependencies of $wheel_name failed"
    if "$venv/bin/python" -c 'import importlib.util, sys
sys.exit(not any(importlib.util.find_spec(name) for name in ("mesonpy", "mesonbuild", "ninja")))'; then
        die "the fresh venv $venv has build tools (meson-python, meson or ninja)"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --only-binary=:all: \
        --find-links "$work/dependencies" "$wheel" || die "pip install --no-index $wheel_name failed"

    site=$(site_packages "$venv")
    (cd "$work/run" && "$venv/bin/python" -c 'import memlyze, sys; print(memlyze.__file__)') >"$work/import.txt" \
        || die "import memlyze failed in $venv"
    case "$(cat "$work/import.txt")" in
        "$site"/memlyze/*) ;;
        *) die "memlyze was imported from $(cat "$work/import.txt"), not from $site" ;;
    esac
    so=$(find "$site/memlyze" -maxdepth 1 -name '_memlyze*.so' | head -n 1)
    [ -n "$so" ] || die "no _memlyze*.so in $site/memlyze"
    check_bundled_libraries "$so" "$site"

    # The README's quick start: profile the bundled example, then summarise.
    (cd "$work/run" && "$venv/bin/memlyze" run -o example.mlyze "$EXAMPLE") >"$work/run.out" 2>&1 \
        || die "memlyze run failed: $(tail -n 1 "$work/run.out")"
    grep -q "cached 40 images" "$work/run.out" || die "the example did not run under memlyze: $(head -n 2 "$work/run.out" | tr '\n' ' ')"
    (cd "$work/run" && "$venv/bin/memlyze" summary example.mlyze) >"$work/summary.txt" 2>&1 \
        || die "memlyze summary failed: $(tail -n 1 "$work/summary.txt")"
    check_summary "$work/summary.txt" "$decode_count"
    printf '  summary: %s\n' "$(grep '^Peak memory ' "$work/summary.txt")"
    check_peak "$venv" "$work/run/example.mlyze"

    # --native: recording unwinds with the bundled libunwind, the report
    # symbolises with the bundled libdw (PyByteArray_Resize is on the stack of
    # decode's bytearray in CPython 3.11 to 3.13).
    (cd "$work/run" && "$venv/bin/memlyze" run --native -o native.mlyze "$EXAMPLE") >"$work/native-run.out" 2>&1 \
        || die "memlyze run --native failed: $(tail -n 1 "$work/native-run.out")"
    if grep -qi "cannot unwind" "$work/native-run.out"; then
        die "memlyze run --native: $(grep -i -m 1 'cannot unwind' "$work/native-run.out")"
    fi
    (cd "$work/run" && "$venv/bin/memlyze" summary -n 1 native.mlyze) >"$work/native-summary.txt" 2>&1 \
        || die "memlyze summary of the --native capture failed: $(tail -n 1 "$work/native-summary.txt")"
    check_summary "$work/native-summary.txt" "$decode_count"
    grep -qE '^    PyByteArray_Resize( |$)' "$work/native-summary.txt" \
        || die "the --native summary has no symbolised native frame PyByteArray_Resize under decode"
    printf '  --native: %s\n' "$(grep -m 1 -E '^    PyByteArray_Resize( |$)' "$work/native-summary.txt" | sed 's/^ *//')"
}

# test_sdist SDIST [CP311_WHEEL]: the sdist holds no build leftovers and what
# a build needs, and a wheel builds from it with CPython 3.11 (with the same
# package files as CP311_WHEEL, when there is one).
test_sdist() {
    local sdist=$1 reference_wheel=${2:-} listing top python work built_wheels forbidden
    work=$scratch/sdist
    subject=$(basename "$sdist")
    mkdir -p "$work"
    step "Testing $(basename "$sdist")"
    listing=$(tar -tzf "$sdist") || die "tar cannot list $sdist"
    top=$(head -n 1 <<<"$listing" | cut -d/ -f1)
    forbidden=$(grep -E "$SDIST_FORBIDDEN" <<<"$listing" | head -n 3 | paste -sd ' ') || true
    [ -z "$forbidden" ] || die "$(basename "$sdist") holds build or venv leftovers: $forbidden"
    local required
    for required in "${SDIST_REQUIRED[@]}"; do
        grep -qxF "$top/$required" <<<"$listing" || die "$(basename "$sdist") lacks $required"
    done
    printf '  %s files, none of build/, build-*/, .venv*/, *.mlyze\n' "$(wc -l <<<"$listing")"

    python=$(bash "$REPO_ROOT/scripts/interpreters.sh" 3.11) || die "no CPython 3.11 to build the sdist with (see above)"
    "$python" -m venv "$work/venv"
    tar -xzf "$sdist" -C "$work"
    # From the unpacked directory: pip caches wheels it builds from archives.
    "$work/venv/bin/python" -m pip wheel --quiet --no-deps --disable-pip-version-check \
        --wheel-dir "$work/wheel" "$work/$top" >"$work/build.log" 2>&1 \
        || die "a wheel does not build from $(basename "$sdist") with CPython 3.11: $(grep -m 1 'ERROR:' "$work/build.log" || tail -n 1 "$work/build.log") (log: $work/build.log)"
    built_wheels=("$work"/wheel/memlyze-*-cp311-cp311-linux_x86_64.whl)
    [ -f "${built_wheels[0]}" ] || die "pip wheel made no cp311 wheel from $(basename "$sdist")"
    printf '  built %s from it with %s\n' "$(basename "${built_wheels[0]}")" "$python"
    if [ -n "$reference_wheel" ]; then
        # The package's own files must be the same: not the bundled libraries,
        # not dist-info, which auditwheel rewrites, nor the directory entries
        # its rewritten zip adds.
        package_files() {
            "$tools/bin/python" -c 'import sys, zipfile
print("\n".join(sorted(name for name in zipfile.ZipFile(sys.argv[1]).namelist() if name.startswith("memlyze/") and not name.endswith("/"))))' "$1"
        }
        if ! diff <(package_files "${built_wheels[0]}") <(package_files "$reference_wheel") >"$work/files.diff"; then
            die "the wheel built from the sdist and $(basename "$reference_wheel") differ in their files: $(head -n 4 "$work/files.diff" | paste -sd ' ')"
        fi
        printf '  same package files as %s\n' "$(basename "$reference_wheel")"
    fi
}

main() {
    [ "$#" -eq 1 ] || usage
    local outdir=$1 wheel tag failures=() started=$SECONDS
    [ -d "$outdir" ] || die "$outdir is not a directory"
    outdir=$(cd "$outdir" && pwd)
    local wheels=() sdists=()
    mapfile -t wheels < <(find "$outdir" -maxdepth 1 -name 'memlyze-*.whl' | sort)
    mapfile -t sdists < <(find "$outdir" -maxdepth 1 -name 'memlyze-*.tar.gz' | sort)
    [ "${#wheels[@]}" -gt 0 ] || die "no memlyze-*.whl in $outdir (bash scripts/build_wheels.sh $outdir makes them)"
    [ "${#sdists[@]}" -eq 1 ] || die "$outdir has ${#sdists[@]} memlyze-*.tar.gz, not one"
    # Two wheels for one interpreter: which one pip takes is not the test's choice.
    local duplicates
    duplicates=$(printf '%s\n' "${wheels[@]##*/}" | awk -F- '{ print $4 }' | sort | uniq -d | paste -sd ' ')
    [ -z "$duplicates" ] || die "$outdir has more than one wheel for $duplicates; remove the stale ones"

    local tools_python
    tools_python=$(find_python)
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/memlyze-wheel-tests.XXXXXX")
    trap 'if [ "$?" -eq 0 ]; then rm -rf "$scratch"; else printf "note: the test venvs and outputs are kept in %s\n" "$scratch" >&2; fi' EXIT
    tools=$scratch/tools
    step "Creating the wheel tools venv (auditwheel) in $tools"
    create_wheel_tools_venv "$tools" "$tools_python" || die "could not install auditwheel into $tools"

    local cp311_wheel=""
    for wheel in "${wheels[@]}"; do
        tag=$(basename "$wheel" | awk -F- '{ print $4 }')
        [ "$tag" = cp311 ] && cp311_wheel=$wheel
        ( test_wheel "$wheel" ) || failures+=("$(basename "$wheel")")
    done
    ( test_sdist "${sdists[0]}" "$cp311_wheel" ) || failures+=("$(basename "${sdists[0]}")")

    step "Wheel tests took $((SECONDS - started)) s"
    # Each wheel and the sdist count as one test.
    printf 'wheels: %d passed, %d failed\n' $((${#wheels[@]} + 1 - ${#failures[@]})) "${#failures[@]}"
    if [ "${#failures[@]}" -gt 0 ]; then
        die "wheel tests failed for: ${failures[*]} (see above)"
    fi
}

main "$@"
