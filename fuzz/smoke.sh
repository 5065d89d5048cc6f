#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 60), FUZZ_JOBS (default 2) at a time,
# from the committed seeds. Fails when any target crashes, leaks, times out (10 s on one
# input) or runs out of memory; the reproducer is left in the work dir.
#   fuzz/smoke.sh BUILD_DIR [TARGET...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: fuzz/smoke.sh BUILD_DIR [TARGET...]}
shift
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
work="$build/fuzz-work"
mkdir -p "$work"

# Every fuzz/fuzz_<target>.cpp is a target (a binary left over from a removed source is not).
targets=("$@")
if ((${#targets[@]} == 0)); then
  for src in "$here"/fuzz_*.cpp; do
    t=$(basename "$src" .cpp)
    targets+=("${t#fuzz_}")
  done
fi
for t in "${targets[@]}"; do
  [ -x "$build/fuzz/fuzz_$t" ] || { echo "fuzz-smoke: $build/fuzz/fuzz_$t is not built" >&2; exit 1; }
done

run_one() {
  local t=$1 bin="$build/fuzz/fuzz_$1" dir="$work/$1"
  rm -rf "$dir" && mkdir -p "$dir/corpus"
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="$dir/")
  [ -f "$here/dict/$t.dict" ] && args+=(-dict="$here/dict/$t.dict")
  local seeds=()
  [ -d "$here/corpus/$t" ] && seeds+=("$here/corpus/$t")
  local start=$SECONDS
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$bin" "${args[@]}" "$dir/corpus" "${seeds[@]}" >"$dir/log" 2>&1; then
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
    echo "fuzz-smoke: $t ok ($((SECONDS - start)) s, ${runs:-?} runs)"
  else
    echo "fuzz-smoke: $t FAILED; log $dir/log; reproducer: $(compgen -G "$dir/[clot][reio]*-*" || echo none)"
    grep -m1 -A30 -E '^==[0-9]+==ERROR|runtime error|ALARM|out-of-memory|deadly signal' "$dir/log" ||
      tail -20 "$dir/log"
    return 1
  fi
}
export -f run_one
export build work seconds here

printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
rc=$?
((rc == 0)) && echo "fuzz-smoke: ${#targets[@]} targets passed (${seconds} s each)"
exit $rc
