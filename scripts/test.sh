#!/usr/bin/env bash
# One command on a fresh machine: installs the test dependencies and runs every
# test: the C unit tests (plain, under ASan+UBSan, and the threaded ones under
# ThreadSanitizer), bounded fuzzing runs of the capture reader and the reports, and the Python
# tests against the installed package, on 3.11 and then on 3.12, 3.13 and
# free-threaded 3.13t (found or built by scripts/interpreters.sh; they include
# the refusal of an unsupported CPython 3.14, also from scripts/interpreters.sh),
# and last the manylinux wheels for those interpreters, each installed into a
# fresh venv without build tools and profiling the bundled example.
# Exits non-zero on any failure.   Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_common.sh
ROOT=$PWD
FUZZ_SECONDS=${MEMLYZE_FUZZ_SECONDS:-30}
FUZZ_REPORT_SECONDS=${MEMLYZE_FUZZ_REPORT_SECONDS:-20}

python=$(find_python)
ensure_build_packages "$python"
# Debian's python3.11 is a second, non-PIE interpreter the tests profile.
ensure_apt_packages clang libclang-rt-14-dev python3.11
# Debian's Chromium: the flame graph page tests drive it with Playwright (never
# 'playwright install', which would download a browser of its own).
ensure_apt_packages chromium
# tmux: the interactive tree's tests (tests/python/test_tree_terminal.py) run it on a
# real terminal and read the screen.
ensure_apt_packages tmux
# memlyze attach/detach inject through Debian's gdb (tests/python/test_attach*.py).
ensure_apt_packages gdb
ensure_venv "$python"

# install_test_tools VENV: the build and test tools the suite needs.
install_test_tools() {
    # Wheels only: some (matplotlib's dependencies) have no free-threaded
    # wheel at their newest version, and their source build wants the internet.
    local pip=("$1/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all:)
    "${pip[@]}" meson meson-python ninja pytest playwright
    # Workloads of tests/python/test_native_allocations.py, test_follow_fork.py and
    # test_follow_subprocesses.py (pytest-xdist and execnet: pure-Python wheels).
    "${pip[@]}" numpy gunicorn pytest-xdist
    # The speedscope export is validated against speedscope's JSON schema.
    "${pip[@]}" jsonschema
    # memlyze plot (tests/python/test_rss_process.py) draws with matplotlib.
    "${pip[@]}" matplotlib
    # Parquet export, memlyze query, memlyze.dask (tests/python/test_data_export.py):
    # pyarrow and pandas have free-threaded wheels; dask and distributed are pure
    # Python, but distributed needs tornado (abi3 wheels only, which a free-threaded
    # interpreter cannot load), pyyaml and msgpack (no free-threaded wheels here):
    # those three install from their sdists (pure Python where no C builds). The
    # lower bound keeps pip from settling on an ancient dask instead of failing.
    # DuckDB publishes abi3 wheels only (and no sdist that builds here): its tests
    # run on the GIL builds.
    "${pip[@]}" --no-binary=tornado,pyyaml,msgpack pyarrow pandas "dask[distributed]>=2024.1"
    if ! "$1/bin/python" -c 'import sys, sysconfig; sys.exit(bool(sysconfig.get_config_var("Py_GIL_DISABLED")))'; then
        echo "DuckDB has no free-threaded build: the memlyze query tests are skipped on $1"
    else
        "${pip[@]}" duckdb
    fi
    # tests/python/test_jupyter_magics.py runs a notebook on a real kernel.
    # Tornado (ipykernel's) publishes abi3 wheels only, which a free-threaded
    # interpreter cannot load: it installs from its sdist (pure Python when its
    # optional C speedups do not build).
    "${pip[@]}" --no-binary=tornado nbclient nbformat ipykernel
}

step "Installing build and test tools into .venv"
install_test_tools .venv
export PATH="$ROOT/.venv/bin:$PATH"

# setup_build DIR OPTION...: configures DIR, reusing it when it is there.
setup_build() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null || meson setup --wipe "$dir" "$@"
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

step "C unit tests (build-tests)"
setup_build build-tests -Dtests=true -Dpython_module=false
meson test -C build-tests --print-errorlogs

step "C unit tests under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan)"
setup_build build-asan -Dtests=true -Dpython_module=false -Db_sanitize=address,undefined -Db_lundef=false
meson test -C build-asan --print-errorlogs

step "Threaded C tests under ThreadSanitizer (build-tsan)"
# The recorder's paths that free-threaded CPython runs with no GIL: appends,
# interning, the sampler's kept blocks, buffers handed over at thread exit.
setup_build build-tsan -Dtests=true -Dpython_module=false -Db_sanitize=thread -Db_lundef=false
TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --print-errorlogs \
    test_concurrent_recording test_recorder test_sampling test_live_table test_live_table_sampling \
    test_recorder_seal test_recorder_ring test_live_server

step "Fuzzing the capture reader (${FUZZ_SECONDS}s), then every report path (${FUZZ_REPORT_SECONDS}s) (build-fuzz)"
# fuzz/meson.build adds -fsanitize=fuzzer,address,undefined itself.
CC=clang setup_build build-fuzz -Dfuzz=true -Dtests=false -Dpython_module=false
meson compile -C build-fuzz
seeds=()
[ -d fuzz/corpus ] && seeds+=(fuzz/corpus)
# fuzz_capture_reader: reader and analysis; fuzz_capture_reports: the
# collection, trees, locations, filters, merged paths and pprof on top.
for target in fuzz_capture_reader:$FUZZ_SECONDS fuzz_capture_reports:$FUZZ_REPORT_SECONDS; do
    seconds=${target#*:}
    target=${target%%:*}
    fuzzer=$(find build-fuzz -type f -name "$target" -perm -u+x | head -n 1)
    [ -n "$fuzzer" ] || die "the $target target was not built"
    mkdir -p "fuzz/corpus-run/$target"
    "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 "fuzz/corpus-run/$target" "${seeds[@]}"
done

# A real CPython 3.14, which memlyze does not support: the Python tests check
# that pip refuses to build memlyze on it with one line (test_unsupported_interpreter.py).
# Fetched once (Debian forky's packages, ~25 MB, a few seconds) into the cache.
step "CPython 3.14 for the refusal tests"
# Without it those tests fail (they try again and show why), the others still run.
MEMLYZE_PYTHON_3_14=$(bash scripts/interpreters.sh 3.14)
if [ -n "$MEMLYZE_PYTHON_3_14" ]; then export MEMLYZE_PYTHON_3_14; fi

step "Installing memlyze into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-build-isolation ".[test]"

step "Python tests on $(.venv/bin/python -c 'import platform; print(platform.python_version())') (tests/python, against the installed package)"
.venv/bin/python -m pytest tests/python

# The suite again on every other supported interpreter scripts/interpreters.sh
# finds, each in its own .venv-<version> (the C tests above do not depend on
# the interpreter).
for version in 3.12 3.13 3.13t; do
    interpreter=$(bash scripts/interpreters.sh "$version") || true
    if [ -z "$interpreter" ]; then
        printf 'note: CPython %s not found (see above): its Python tests were not run\n' "$version" >&2
        continue
    fi
    environment=.venv-$version
    [ -x "$environment/bin/python" ] || "$interpreter" -m venv "$environment"
    step "Installing memlyze into $environment ($interpreter)"
    install_test_tools "$environment"
    PATH="$ROOT/$environment/bin:$PATH" "$environment/bin/python" -m pip install --quiet \
        --disable-pip-version-check --no-build-isolation ".[test]"
    step "Python tests on $("$environment/bin/python" -c 'import platform, sysconfig; print(platform.python_version() + ("t (free-threaded)" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))')"
    PATH="$ROOT/$environment/bin:$PATH" "$environment/bin/python" -m pytest tests/python
done

# A wheel for every interpreter scripts/interpreters.sh finds (build_wheels.sh's
# default: those of the loop above), from a fresh sdist of the committed tree,
# each installed into a fresh venv and tested there.
wheel_dir=$ROOT/build-wheels
rm -rf "$wheel_dir"
step "Wheels into $wheel_dir (scripts/build_wheels.sh, then scripts/test_wheels.sh)"
wheels_started=$SECONDS
bash scripts/build_wheels.sh "$wheel_dir"
bash scripts/test_wheels.sh "$wheel_dir"
printf 'Building and testing the wheels took %d s\n' $((SECONDS - wheels_started))
