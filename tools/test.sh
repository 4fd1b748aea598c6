#!/usr/bin/env bash
# tools/test.sh - set up and run every test: a normal build, an ASan+UBSan build, a TSan
# build, the golden runs, a fuzz smoke run, and valgrind on the CLI. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

tools/setup-deps.sh || { echo "dependency setup failed"; exit 1; }

passed=0
failed=0
failures=()
rm -f "$ROOT/.test-failures.txt"

# Each suite result counts once; meson test results are counted per test.
count_meson() { # $1 = build dir
  local json="$1/meson-logs/testlog.json"
  [ -f "$json" ] || return
  local p f
  p=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(sum(1 for t in r if t["result"] in ("OK","EXPECTEDFAIL")))' "$json")
  f=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print("\n".join(t["name"] for t in r if t["result"] not in ("OK","EXPECTEDFAIL","SKIP")))' "$json")
  passed=$((passed + p))
  # What failed, kept for the end of the output (CI shows only the tail): TAP "not ok"
  # lines with their diagnostics, or the last lines of a cmocka/other failing test.
  python3 - "$json" "$1" >>"$ROOT/.test-failures.txt" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
        continue
    out = (t.get("stdout") or "").splitlines()
    keep, grab = [], False
    for l in out:
        if l.startswith("not ok") or "[  FAILED  ]" in l or "[  ERROR   ]" in l:
            keep.append(l); grab = True
        elif grab and l.startswith("#"):
            keep.append(l)
        else:
            grab = False
    if not keep:
        keep = out[-15:]
    print("--- %s: %s (%s)" % (sys.argv[2], t["name"], t["result"]))
    print("\n".join("    " + l[:300] for l in keep[:40]))
PY
  if [ -n "$f" ]; then
    while read -r name; do failures+=("$1: $name"); failed=$((failed + 1)); done <<<"$f"
  fi
}

step() { # name, command...
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
}

build() { # dir, meson options...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
  fi
  ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
}

echo "=== build (gcc, -Werror)"
if build build; then
  meson test -C build --print-errorlogs --num-processes 2 --timeout-multiplier 2 --no-suite guest
  count_meson build
else
  failed=$((failed + 1)); failures+=("build")
fi

echo "=== build (ASan+UBSan)"
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false; then
  ASAN_OPTIONS=detect_leaks=1 meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 4 --no-suite guest
  count_meson build-asan
else
  failed=$((failed + 1)); failures+=("build-asan")
fi

# ThreadSanitizer: clang's (gcc 12's cannot build the atomic fences the engine uses).
# The engine, the daemon, the RT scheduler and the file endpoints' I/O threads share
# state across threads and processes; a report fails the test (exit 66).
echo "=== build (TSan, clang)"
if CC=clang build build-tsan -Db_sanitize=thread -Db_lundef=false -Dbench=false; then
  TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --print-errorlogs --num-processes 2 --timeout-multiplier 4 --no-suite guest
  count_meson build-tsan
else
  failed=$((failed + 1)); failures+=("build-tsan")
fi

# Real guests (QEMU 10 from bookworm-backports, Debian 6.12 kernel): installed and built by
# tools/guest/*.sh on first use; one suite, run once, against the normal build.
echo "=== real-guest tests (QEMU, TCG)"
if [ -f build/build.ninja ]; then
  mv build/meson-logs/testlog.json build/meson-logs/testlog.unit.json 2>/dev/null
  meson test -C build --print-errorlogs --suite guest --num-processes 1
  count_meson build
fi

if [ -x tools/fuzz-smoke.sh ]; then
  step "fuzz smoke (libFuzzer, clang)" tools/fuzz-smoke.sh 20
fi
if [ -x tools/valgrind-check.sh ]; then
  step "valgrind (virtdsp run, virtdsp serve)" tools/valgrind-check.sh build
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
  [ -s "$ROOT/.test-failures.txt" ] && cat "$ROOT/.test-failures.txt"
  printf 'FAILED: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
