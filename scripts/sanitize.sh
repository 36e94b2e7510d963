#!/usr/bin/env bash
# Builds the host code with sanitizers in a build folder of its own and runs test suites there.
#   scripts/sanitize.sh [address|thread] [suite...]
# address = AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer (build-asan/),
# thread  = ThreadSanitizer (build-tsan/). Suites are tests/<folder> names (ctest labels); the
# default is the host-code suites below. Not part of scripts/test.sh: a sanitized build is a
# second full build and the tests run several times slower. Sweep executables never run.
# Kernel suites, on request: `scripts/sanitize.sh address emu decode variants cpu`. emu is the
# CPU emulator of the CUDA templates (tests/emu: sm80 / sm90 prefill, ALiBi / sinks); decode and
# variants hold the decode, varlen / paged and user-mod emulator tests beside their host code;
# cpu is the LLVM backend's host code (its JIT-compiled kernels are not instrumented). Under ASan
# the emulator stands in for compute-sanitizer memcheck: global buffers are exact-size host
# allocations, shared memory past the launch's dynamic size and under an asynchronous copy in
# flight is poisoned (tests/emu/emu_runtime.h), CUDA vector types keep their alignment (UBSan
# checks it); races between threads are the emulator's own hazard checks, not ASan's.
# All their non-sweep tests run (GPU-only ones skip): 329 tests of the 4 suites in 18 min with
# JOBS=2 on a shared 2-core machine, the longest 1.5-2.5 min each (DecodeNvrtc.DefaultConfig...,
# DecodeEmu.TwoLevelCombine / CombineOfManySplits, PrefillSm90Emu.Persistent*); narrow with
# e.g. CTEST_ARGS="-R Emu" (the emulator tests only).
# ThreadSanitizer does not follow the emulator's ucontext fibers: in thread mode the emu suite
# is refused and the emulator tests of the other suites (names containing Emu) are left out.
# Findings fail the test; reviewed false positives and third-party findings are suppressed,
# each with its reason, in scripts/sanitizers/*.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-address}
shift || true
suites=("$@")
((${#suites[@]})) || suites=(db service runtime api tuner cli codegen)
supp=$PWD/scripts/sanitizers
case $mode in
  address)
    dir=${BUILD_DIR:-build-asan}; flags=address,undefined
    export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:print_suppressions=0"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp" ;;
  thread)
    dir=${BUILD_DIR:-build-tsan}; flags=thread
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4:suppressions=$supp/tsan.supp:print_suppressions=0" ;;
  *) echo "usage: scripts/sanitize.sh [address|thread] [suite...]" >&2; exit 2 ;;
esac
exclude=()
if [ "$mode" = thread ]; then
  for s in "${suites[@]}"; do
    [ "$s" != emu ] || { echo "sanitize.sh: suite 'emu' needs address mode (TSan cannot follow its fibers)" >&2; exit 2; }
  done
  exclude=(-E Emu)
fi
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
launcher=(); command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
# -O1: sanitizer reports stay readable and the build stays quick; NDEBUG as in a release build.
# Python is off: its module would need the sanitizer runtime preloaded into the interpreter.
cmake -S . -B "$dir" "${gen[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g -DNDEBUG" -DATTNJIT_SANITIZE=$flags \
  -DATTNJIT_WITH_PYTHON=OFF >/dev/null
# Each suite's executables: test_<suite>, companions such as test_cpu_variants (which carry
# the label cpu and variants: found by either suite), never the *_sweep ones.
targets=(attnjit-cli)
# (Ninja lists "test_db: phony", Make "... test_db".)
all_targets=$(cmake --build "$dir" --target help | sed -n 's/^\(\.\.\. \)\{0,1\}\(test_[A-Za-z0-9_]*\).*/\2/p')
for s in "${suites[@]}"; do
  found=$(grep -E "^test_(${s}(_[a-z]+)?|[a-z]+_${s})\$" <<<"$all_targets" | grep -v '_sweep$' || true)
  [ -n "$found" ] || { echo "sanitize.sh: no test executable for suite '$s'" >&2; exit 2; }
  targets+=($found)
done
cmake --build "$dir" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"
label="^($(IFS='|'; echo "${suites[*]}"))\$"
ctest --test-dir "$dir" -L "$label" -LE "sweep|packaging" "${exclude[@]}" --output-on-failure \
  -j "${JOBS:-$(nproc)}" --timeout 900 ${CTEST_ARGS:-}
