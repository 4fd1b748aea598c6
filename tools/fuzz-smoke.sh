#!/usr/bin/env bash
# tools/fuzz-smoke.sh [SECONDS] - build every libFuzzer target with clang+ASan+UBSan and run each
# over its seed corpus for SECONDS (default 20). Fails on any crash, leak or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Dbench=false \
    -Db_sanitize=address,undefined -Db_lundef=false >build-fuzz.setup.log 2>&1 \
    || { cat build-fuzz.setup.log; exit 1; }
fi
ninja -C build-fuzz >build-fuzz.build.log 2>&1 || { tail -40 build-fuzz.build.log; exit 1; }
status=0
for t in build-fuzz/fuzz/fuzz_*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  name=$(basename "$t"); name=${name#fuzz_}
  corpus=fuzz/corpus/$name
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus/." "$work/"
  echo "fuzz_$name: ${secs}s"
  if ! UBSAN_OPTIONS=halt_on_error=1 "$t" "$work" -max_total_time="$secs" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=0 >"$work.log" 2>&1; then
    tail -40 "$work.log"; status=1
  else
    grep -E "^#[0-9]+.*DONE" "$work.log" | tail -1 || true
  fi
  rm -rf "$work" "$work.log"
done
exit $status
