#!/usr/bin/env bash
# tools/demo.sh - the main job on a built-in default: build virtdsp and run the demo topology
# (a test tone and a second voice mixed, equalised and attenuated into a WAV file), then show
# what came out, measured independently with sox.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build >/dev/null
fi
ninja -C build >/dev/null

out=${VIRTDSP_DEMO_DIR:-$(mktemp -d /tmp/virtdsp-demo.XXXXXX)}
mkdir -p "$out"
echo "== virtdsp run examples/demo.topo  (output in $out)"
build/src/cli/virtdsp run examples/demo.topo --output "out=$out/demo.wav" --describe
echo
echo "== what sox measures in $out/demo.wav"
sox --i "$out/demo.wav" | sed -n '2,8p'
sox "$out/demo.wav" -n stat 2>&1 | grep -E "Length|Maximum amplitude|RMS +amplitude|Rough +frequency"
