#!/usr/bin/env bash
# tools/valgrind-check.sh BUILD_DIR - run the CLI on example topologies under valgrind:
# any memory error or leak fails.
set -euo pipefail
cd "$(dirname "$0")/.."
b=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vg="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible"
$vg "$b/src/cli/virtdsp" run examples/demo.topo --quiet --output "out=$tmp/demo.wav"
# an erroneous topology must fail cleanly too (exit 2, no leak)
printf 'pipeline p {\n  node x nosuchtype {}\n  link x -> y\n}\n' >"$tmp/bad.topo"
set +e
$vg "$b/src/cli/virtdsp" run "$tmp/bad.topo" 2>/dev/null
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "bad topology under valgrind: exit $rc, expected 2"; exit 1; }
echo "valgrind: clean"
