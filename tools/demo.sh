#!/usr/bin/env bash
# tools/demo.sh - the whole story on a fresh Debian 12 machine: build virtdsp, start
# `virtdsp serve` on its built-in host topology, boot an unmodified Debian guest under QEMU
# with a vhost-user-snd-pci device on the daemon's socket, play a known signal with the
# guest's stock aplay while recording with its arecord, and report what the host received
# (frames, level, sample-exact against the played file) and what the guest recorded.
# Installs QEMU 10 (bookworm-backports) and builds the guest from Debian packages on first
# use (root or sudo, network; docs/guest-testing.md).
#
#   tools/demo.sh             the guest demo (first run: a few minutes of downloads)
#   tools/demo.sh --offline   only the engine: `virtdsp run` on examples/demo.topo (seconds)
#
# VIRTDSP_DEMO_DIR=DIR keeps the files there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

offline=0
case ${1:-} in
--offline) offline=1 ;;
"") ;;
-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "usage: tools/demo.sh [--offline]" >&2; exit 2 ;;
esac

tools/setup-deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build >/dev/null
fi
ninja -C build >/dev/null
V=build/src/cli/virtdsp

out=${VIRTDSP_DEMO_DIR:-$(mktemp -d /tmp/virtdsp-demo.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ $offline = 1 ]; then
  echo "== virtdsp run examples/demo.topo  (output in $out)"
  $V run examples/demo.topo --output "out=$out/demo.wav" --describe
  echo
  echo "== what sox measures in $out/demo.wav"
  sox --i "$out/demo.wav" | sed -n '2,8p'
  sox "$out/demo.wav" -n stat 2>&1 | grep -E "Length|Maximum amplitude|RMS +amplitude|Rough +frequency"
  exit 0
fi

fail() {
  echo "demo: $*" >&2
  echo "demo: (tools/demo.sh --offline runs the engine alone, without QEMU)" >&2
  exit 1
}

echo "== QEMU and the test guest (tools/guest/; cached after the first run)"
tools/guest/setup-host.sh || fail "could not install QEMU 10 (needs root or sudo, and the Debian archive)"
tools/guest/build-image.sh || fail "could not build the guest image from Debian packages"
echo "   $(qemu-system-x86_64 --version | head -1); guest kernel $(cat tools/guest/cache/image/kernel-release)"

AUDIO=(python3 tests/guest/test_serve_audio.py)
# 2 s of 440 Hz (left) and 1 kHz (right) at -6 dBFS, 16-bit stereo 48 kHz: the formats of the
# built-in topologies, so nothing is converted and the host file must match it sample-exactly.
python3 tools/guest/wavtool.py gen "$out/played.wav" --seconds 2 --freqs 440,1000 --amplitude 0.5
rm -f "$out/host.wav"

echo
echo "== virtdsp serve --guest demo=$out/demo.sock --output $out/host.wav"
# A state file of the demo's own: control values set earlier (virtdsp ctl) must not change it.
$V serve --no-tasks --guest "demo=$out/demo.sock" --output "$out/host.wav" --state-file "$out/state" \
	2>"$out/serve.log" &
serve=$!
trap 'kill -TERM $serve 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$out/serve.log" && break; sleep 0.1; done
grep -q 'listening on' "$out/serve.log" || { cat "$out/serve.log"; fail "virtdsp serve did not start"; }
sed 's/^/   /' "$out/serve.log"

echo
echo "== the guest: aplay played.wav while arecord records 2 s (QEMU, $(nproc) host cores)"
set +e
tools/guest/run-guest.sh --vhost-user "$out/demo.sock" --play "$out/played.wav" \
  --record 2:48000:2:S16_LE --both --period 480 --buffer 24000 --out "$out/guest" >"$out/guest.log" 2>&1
rc=$?
set -e
kill -TERM $serve
wait $serve || true
trap - EXIT
R=$out/guest/results.txt
get() { sed -n "s/^$1=//p" "$R" | head -1; }
# the QEMU options that attach the guest to the daemon
tr ' ' '\n' <"$out/guest/qemu.cmdline" | grep -E 'memory-backend-memfd|vhost|^socket' | tr -d '\\' |
  sed 's/^/   qemu: /'
sed -n '/connected\|disconnected\|host sink\|host graph: [0-9]/s/^/   /p' "$out/serve.log"
[ $rc = 0 ] || { tail -20 "$out/guest.log"; fail "the guest run failed (rc $rc); see $out/guest/serial.log"; }

echo
echo "== in the guest ($(get kernel), stock virtio_snd, $(get card | cut -d: -f2- | sed 's/^ //'))"
echo "   aplay:   rc $(get play.rc), $(get play.format) $(get play.rate) Hz $(get play.channels) ch," \
  "period $(get play.period_size) frames"
echo "   arecord: rc $(get record.rc), $(get record.format) $(get record.rate) Hz $(get record.channels) ch"
echo "   tx completions seen by the guest: $(get play.msg.count), interval p50 $(get play.msg.p50_ms) ms," \
  "p99 $(get play.msg.p99_ms) ms, max $(get play.msg.max_ms) ms (guest clock; QEMU $(get host.accel))"

echo
echo "== what the host received ($out/host.wav)"
"${AUDIO[@]}" level "$out/host.wav" >"$out/level.txt"
lv() { sed -n "s/^level.$1=//p" "$out/level.txt"; }
echo "   sound for $(lv seconds) s ($(lv frames) frames at $(lv rate) Hz) in the mix;" \
  "peak $(lv ch0.peak_dbfs) / $(lv ch1.peak_dbfs) dBFS, RMS $(lv ch0.rms_dbfs) / $(lv ch1.rms_dbfs) dBFS"
if "${AUDIO[@]}" find "$out/played.wav" "$out/host.wav" >"$out/find.txt"; then
  echo "   sample-exact: the $(sed -n 's/^find.ref_frames=//p' "$out/find.txt") frames of played.wav" \
    "(after its silent first frame) are in host.wav bit for bit, silence around them"
else
  sed 's/^/   /' "$out/find.txt"
  fail "host.wav does not hold played.wav sample-exactly"
fi

echo
echo "== what the guest recorded ($out/guest/guest/record.wav: the host's 440 Hz tone at -20 dBFS)"
"${AUDIO[@]}" sine "$out/guest/guest/record.wav" --freqs 440,440 --amp 0.1 --tol-db 0.05 >"$out/record.txt" ||
  { sed 's/^/   /' "$out/record.txt"; fail "the recording is not the host's tone"; }
echo "   $(sed -n 's/^sine.frames=//p' "$out/record.txt") frames; left $(sed -n 's/^sine.ch0.level_db=//p' \
  "$out/record.txt") dBFS, right $(sed -n 's/^sine.ch1.level_db=//p' "$out/record.txt") dBFS at 440 Hz," \
  "SNR $(sed -n 's/^sine.ch0.snr_db=//p' "$out/record.txt") dB"
echo
echo "files in $out"
