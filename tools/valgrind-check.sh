#!/usr/bin/env bash
# tools/valgrind-check.sh BUILD_DIR - run the CLI on example topologies, and the daemon with a
# client, under valgrind: any memory error or leak fails, and so does a descriptor the daemon
# leaves open at exit.
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

# the daemon: serve on a temporary socket, convert through it (the client under valgrind too),
# then SIGTERM: it must free every session, task, memfd and thread and exit 0
sox -n -r 44100 -c 2 -b 16 "$tmp/in.wav" synth 1 sine 440 sine 660 gain -6
$vg --track-fds=yes --log-file="$tmp/serve.vg" "$b/src/cli/virtdsp" serve --socket "$tmp/run/s.sock" \
  --quiet 2>"$tmp/serve.log" &
serve=$!
for _ in $(seq 200); do [ -S "$tmp/run/s.sock" ] && break; sleep 0.1; done
[ -S "$tmp/run/s.sock" ] || { echo "virtdsp serve did not start"; cat "$tmp/serve.log"; exit 1; }
$vg "$b/src/cli/virtdsp" convert "$tmp/in.wav" "$tmp/out.wav" --rate 48000 --socket "$tmp/run/s.sock" --quiet
# a client that disappears without closing its session
$vg "$b/src/cli/virtdsp" convert "$tmp/in.wav" "$tmp/out2.wav" --format f32 --socket "$tmp/run/s.sock" \
  --quiet &
client=$!
sleep 0.5
kill -KILL "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
# and one still converting when the daemon is told to stop: its session, ring and worker
# thread are ended by the daemon's own shutdown (the client sees the hang-up and fails)
sox -n -r 44100 -c 2 -b 16 "$tmp/long.wav" synth 120 sine 440 gain -6
"$b/src/cli/virtdsp" convert "$tmp/long.wav" "$tmp/out3.wav" --rate 48000 --socket "$tmp/run/s.sock" \
  --quiet 2>"$tmp/client3.log" &
client=$!
sleep 0.5
kill -0 "$client" 2>/dev/null || { echo "the converting client ended before the daemon was stopped"; exit 1; }
kill -TERM "$serve"
set +e
wait "$serve"
rc=$?
wait "$client"
crc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "virtdsp serve under valgrind: exit $rc after SIGTERM, expected 0"; cat "$tmp/serve.vg" "$tmp/serve.log"; exit 1
fi
[ "$crc" -ne 0 ] || { echo "a client converting through a daemon that stopped exited 0"; exit 1; }
# every descriptor still open at exit must be one it inherited (std streams, valgrind's log)
leaked=$(awk '/Open (file descriptor|AF_UNIX socket)/ { d = $0; getline; if ($0 !~ /inherited from parent/) print d }' \
  "$tmp/serve.vg")
if [ -n "$leaked" ]; then
  echo "virtdsp serve left descriptors open:"; cat "$tmp/serve.vg"; exit 1
fi
[ -e "$tmp/run/s.sock" ] && { echo "virtdsp serve left its socket behind"; exit 1; }

# the daemon's guest side: the built-in host topology running (real-time scheduler), one
# guest socket; a fake vhost-user front-end (tests/unit/test_serve --fake-guest, not under
# valgrind) brings a virtio-snd device up, plays, stops and disconnects, then comes back and
# vanishes mid-stream as a killed QEMU would. SIGTERM must then free everything.
fake="$b/tests/unit/test_serve"
[ -x "$fake" ] || { echo "$fake is missing (build with tests)"; exit 1; }
$vg --track-fds=yes --log-file="$tmp/guest.vg" "$b/src/cli/virtdsp" serve --no-tasks --rt-priority 0 \
  --guest "vm=$tmp/vm.sock" --output "$tmp/host.wav" --state-file "$tmp/state" --ctl-socket "$tmp/ctl.sock" \
  2>"$tmp/guest.log" &
serve=$!
for _ in $(seq 300); do grep -q 'listening on' "$tmp/guest.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'listening on' "$tmp/guest.log" || { echo "virtdsp serve --guest did not start"; cat "$tmp/guest.log"; exit 1; }
"$fake" --fake-guest "$tmp/vm.sock" --periods 20 || { echo "fake guest failed"; cat "$tmp/guest.log"; exit 1; }
# The control socket and the state file under valgrind too: a host-side volume change is
# stored, read back, and listed.
"$b/src/cli/virtdsp" ctl --socket "$tmp/ctl.sock" set vm "PCM Playback Volume" -6dB >/dev/null &&
  "$b/src/cli/virtdsp" ctl --socket "$tmp/ctl.sock" --json get vm "PCM Playback Volume" | grep -q '"value":-6' &&
  "$b/src/cli/virtdsp" ctl --socket "$tmp/ctl.sock" status >/dev/null &&
  grep -q 'PCM Playback Volume' "$tmp/state" ||
  { echo "virtdsp ctl against the daemon failed"; cat "$tmp/guest.log"; exit 1; }
for _ in $(seq 100); do grep -q 'vm: disconnected' "$tmp/guest.log" && break; sleep 0.1; done
"$fake" --fake-guest "$tmp/vm.sock" --periods 10 --vanish || { echo "fake guest (vanishing) failed"; cat "$tmp/guest.log"; exit 1; }
for _ in $(seq 100); do [ "$(grep -c 'vm: disconnected' "$tmp/guest.log")" -ge 2 ] && break; sleep 0.1; done
kill -TERM "$serve"
set +e
wait "$serve"
rc=$?
set -e
if [ "$rc" -ne 0 ] || [ "$(grep -c 'vm: connected' "$tmp/guest.log")" -ne 2 ] || \
   ! grep -q 'freed 1 active streams' "$tmp/guest.log"; then
  echo "virtdsp serve --guest under valgrind: exit $rc, or the two connections were not served and freed"
  cat "$tmp/guest.vg" "$tmp/guest.log"; exit 1
fi
leaked=$(awk '/Open (file descriptor|AF_UNIX socket)/ { d = $0; getline; if ($0 !~ /inherited from parent/) print d }' \
  "$tmp/guest.vg")
if [ -n "$leaked" ]; then
  echo "virtdsp serve --guest left descriptors open:"; cat "$tmp/guest.vg"; exit 1
fi
[ -e "$tmp/vm.sock" ] && { echo "virtdsp serve left its guest socket behind"; exit 1; }
echo "valgrind: clean"
