#!/usr/bin/env bash
# tests/guest/test_serve.sh [VIRTDSP] - `virtdsp serve` against real guests: unmodified Debian
# 6.12 guests under QEMU 10 (TCG) with vhost-user-snd-pci on the daemon's sockets play and
# record with stock aplay/arecord. Checks, on the host: playback arrives sample-exact in the
# host WAV, capture of a host file arrives bit-exact in the guest, a converting guest topology
# (44.1 kHz + volume) by level, SNR and length, two guests mixed at their levels, and a guest
# killed mid-stream (its resources freed, the other guest untouched, the guest reconnecting);
# on the guest, the completion timing of 10 ms periods. TAP output.
# VIRTDSP: the binary (default $VD_BUILD_ROOT/src/cli/virtdsp, else build/src/cli/virtdsp).
# VD_GUEST_TEST_OUT=DIR keeps the run's files there.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=$ROOT/tools/guest
VIRTDSP=${1:-${VIRTDSP:-${VD_BUILD_ROOT:-$ROOT/build}/src/cli/virtdsp}}
WAVTOOL=(python3 "$G/wavtool.py")
AUDIO=(python3 "$ROOT/tests/guest/test_serve_audio.py")
W=${VD_GUEST_TEST_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/vdserve-test.XXXXXX")}
mkdir -p "$W"
W=$(cd "$W" && pwd)
# Generous: one boot takes 5-30 s on a quiet machine and over a minute on a loaded one.
BOOT_TIMEOUT=${VD_SERVE_BOOT_TIMEOUT:-400}
# 10 ms periods in a 0.5 s buffer: ALSA fails a write with EIO when no period completes
# within max(100 ms, 1.1 x buffer), and a TCG guest on a loaded host stalls for 100 ms and
# more (seen with two guests at load 19). The device's pacing does not depend on the buffer.
PB=(--period 480 --buffer 24000)
# The two-guest cases run two TCG guests at once: 50 ms periods in a 1 s buffer (the driver
# keeps about 16 periods queued in the device, so this covers a guest stall of 0.8 s).
PL=(--period 2400 --buffer 48000)

# shellcheck source=tests/guest/tap.sh
. "$ROOT/tests/guest/tap.sh"

# ---- the daemon ------------------------------------------------------------------------
DPID="" DLOG=""
start_daemon() { # tag, serve arguments... (one --guest each; waits until every socket listens)
	local tag=$1; shift
	local guests
	guests=$(printf '%s\n' "$@" | grep -c '^--guest$')
	DLOG=$W/$tag.daemon.log
	# a fresh state file per run: values set by an earlier run must not leak in
	"$VIRTDSP" serve --no-tasks --state-file "$W/$tag.state" "$@" 2>"$DLOG" &
	DPID=$!
	for _ in $(seq 100); do
		[ "$(grep -c 'listening on' "$DLOG")" -ge "$guests" ] && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
stop_daemon() { # SIGTERM, wait up to 30 s; returns the exit status (124: did not stop)
	kill -TERM "$DPID" 2>/dev/null
	for _ in $(seq 300); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DPID" 2>/dev/null; then
		kill -KILL "$DPID"
		wait "$DPID" 2>/dev/null
		return 124
	fi
	wait "$DPID"
}
fds() { find "/proc/$DPID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
memfd_maps() { grep -c '/memfd:' "/proc/$DPID/maps" 2>/dev/null; }
wait_log() { # regex, seconds: until the daemon log has a line matching
	local i
	for i in $(seq $(($2 * 10))); do
		grep -qE "$1" "$DLOG" && return 0
		sleep 0.1
	done
	return 1
}
# Until guest $1's stream 0 has completed at least $2 messages (asks the daemon with SIGUSR1),
# for at most $3 seconds, or until process $4 (the guest's run-guest.sh) has ended.
wait_running() {
	local i c
	for i in $(seq "$3"); do
		kill -USR1 "$DPID" 2>/dev/null
		sleep 1
		c=$(sed -n "s/.* $1: stream 0: running, \([0-9]*\) messages completed.*/\1/p" "$DLOG" | tail -1)
		[ -n "$c" ] && [ "$c" -ge "$2" ] && return 0
		kill -0 "$4" 2>/dev/null || return 1
	done
	return 1
}
underruns() { grep -c 'underrun!!!' "$W/$1/serial.log"; }
rx_p50() { # trace.txt: median interval (ms) between the first 100 rx completions
	grep 'vq="virtsnd-rx"' "$1" | head -100 |
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { sub(":", "", $i); t = $i }
		       if (n++) printf "%.3f\n", (t - p) * 1000; p = t }' |
		sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int((NR + 1) / 2)] }'
}
guest() { # tag, run-guest.sh arguments... : boots, waits, returns its status
	local tag=$1; shift
	"$G/run-guest.sh" --timeout "$BOOT_TIMEOUT" --out "$W/$tag" "$@" >"$W/$tag.log" 2>&1
}
xruns() { grep -cE '(under|over)run!!!' "$W/$1/serial.log" 2>/dev/null; }
# For checks that are exact: a guest that starved on the loaded host (its aplay/arecord
# reported an xrun, so the device had to insert silence or drop capture) is booted once more.
guest_exact() { # tag, run-guest.sh arguments...
	local tag=$1 rc x
	guest "$@"
	rc=$?
	x=$(xruns "$tag")
	if [ "$rc" = 0 ] && [ "${x:-0}" -gt 0 ]; then
		echo "# $tag: the guest reported $x xruns (starved by the host's load): booting it again"
		rm -rf "$W/$tag.try1"
		mv "$W/$tag" "$W/$tag.try1"
		mv "$W/$tag.log" "$W/$tag.try1.log"
		guest "$@"
		rc=$?
	fi
	return $rc
}
guest_ok() { # description, tag, status
	if [ "$3" = 0 ]; then ok "$1"; else
		not_ok "$1" "run-guest.sh exit $3" \
			"$(grep -v '^VDTEST: pkg' "$W/$2.log" | tail -15 | tr '\n' '|')" \
			"daemon: $(tail -5 "$DLOG" | tr '\n' '|')"
	fi
}
daemon_stops() { # description
	local rc
	stop_daemon
	rc=$?
	if [ $rc = 0 ] && grep -q 'SIGTERM, shutting down' "$DLOG"; then ok "$1"; else
		not_ok "$1" "exit $rc" "$(tail -5 "$DLOG" | tr '\n' '|')"
	fi
}

T0=$(now)

# ---- host set-up, guest image, signals ----------------------------------------------------
check "setup-host.sh installs QEMU >= 10 and the host tools" "$G/setup-host.sh"
check "build-image.sh builds the guest kernel and initramfs" "$G/build-image.sh"
check "virtdsp binary is there ($VIRTDSP)" test -x "$VIRTDSP"

"${WAVTOOL[@]}" gen "$W/play.wav" --seconds 1 --freqs 440,1000 --amplitude 0.5
"${WAVTOOL[@]}" gen "$W/play2.wav" --seconds 1 --freqs 660,1500 --amplitude 0.5
"${WAVTOOL[@]}" gen "$W/play44.wav" --rate 44100 --seconds 1 --freqs 440,1000 --amplitude 0.5
"${WAVTOOL[@]}" gen "$W/mix-a.wav" --seconds 20 --freqs 440,660 --amplitude 0.25
"${WAVTOOL[@]}" gen "$W/mix-b.wav" --seconds 20 --freqs 1000,1500 --amplitude 0.125
"${WAVTOOL[@]}" gen "$W/kill-a.wav" --seconds 60 --freqs 440,660 --amplitude 0.25
"${WAVTOOL[@]}" gen "$W/kill-b.wav" --seconds 30 --freqs 1000,1500 --amplitude 0.125
"${WAVTOOL[@]}" gen "$W/kill-a2.wav" --seconds 1 --freqs 2000,3000 --amplitude 0.5
# The host's capture source: 300 s (looped from the daemon's start) in which no
# 1 s stretch repeats, so the guest's recording can be located in it exactly.
"${AUDIO[@]}" pattern "$W/capture.wav" --seconds 300 >/dev/null

# ---- 1: formats match: playback sample-exact, capture bit-exact, 10 ms period timing ------
# The built-in host topology (2 ms period), the built-in guest topology; the capture point
# reads capture.wav. Two boots of the same guest: play then record, then both at once.
T1=$(now)
if start_daemon basic --guest "vm=$W/vm.sock" --output "$W/basic-host.wav" \
	--capture-file "$W/capture.wav"; then
	ok "serve starts on the built-in host topology with one guest socket"
else
	not_ok "serve starts on the built-in host topology with one guest socket" "$(cat "$DLOG")"
fi
guest_exact play-record --vhost-user "$W/vm.sock" --play "$W/play.wav" --record 1:48000:2:S16_LE \
	"${PB[@]}"
rc=$?
R=$W/play-record/results.txt
guest_ok "play-record: guest on vhost-user-snd-pci plays and records, result=pass" play-record $rc
expect "play-record: aplay rc 0 with the requested 480-frame period" "$R" play.period_size 480
expect "play-record: arecord rc 0" "$R" record.rc 0
check_kv "capture: the guest's recording is a stretch of the host's capture file, bit-exact" \
	"${AUDIO[@]}" excerpt "$W/capture.wav" "$W/play-record/guest/record.wav"
expect "capture: exactly the 48000 frames asked for" <("${AUDIO[@]}" level "$W/play-record/guest/record.wav") \
	level.frames 48000
# Timing from the guest's clock: tx completions one 10 ms period apart.
expect_range "timing: the guest saw its 100 tx completions for 1 s (its kretprobe may miss one)" "$R" \
	play.msg.count 99 100
expect_range "timing: mean tx completion interval is 10 ms" "$R" play.msg.mean_ms 9.5 10.5
expect_range "timing: median tx completion interval is 10 ms" "$R" play.msg.p50_ms 9.0 11.0
P50=$(result "$R" play.msg.p50_ms) P99=$(result "$R" play.msg.p99_ms) PMAX=$(result "$R" play.msg.max_ms)
ok "timing: guest-side tx completion interval p50 $P50 ms, p99 $P99 ms, max $PMAX ms, min $(result "$R" \
	play.msg.min_ms) ms, under 1 ms: $(result "$R" play.msg.under_1ms) (10 ms periods, TCG, host period 2 ms)"
# rx: the first 100 completions are the filled periods (arecord's RELEASE returns the rest
# of its buffer at once); their median spacing is the period.
rx_p50=$(rx_p50 "$W/play-record/guest/trace.txt")
if awk -v v="$rx_p50" 'BEGIN { exit !(v != "" && v >= 9 && v <= 11) }'; then
	ok "timing: median rx completion interval of the 100 recorded periods is 10 ms ($rx_p50 ms)"
else
	not_ok "timing: median rx completion interval of the 100 recorded periods is 10 ms" "p50 '$rx_p50'"
fi

guest_exact both --vhost-user "$W/vm.sock" --play "$W/play2.wav" --record 1:48000:2:S16_LE --both \
	"${PB[@]}"
rc=$?
guest_ok "both: the same guest boots again (reconnects) and plays and records at once" both $rc
if grep -qE 'vm: connected \(peer pid [0-9]*, connection [2-9]\)' "$DLOG"; then
	ok "both: the daemon served it as a new connection of the same guest"
else
	not_ok "both: the daemon served it as a new connection of the same guest" "$(grep 'vm:' "$DLOG" | tr '\n' '|')"
fi
check_kv "both: recording while playing is a bit-exact stretch of the capture file" \
	"${AUDIO[@]}" excerpt "$W/capture.wav" "$W/both/guest/record.wav"
daemon_stops "basic: SIGTERM stops the daemon cleanly (exit 0)"
check "basic: the guest socket is removed at exit" test ! -e "$W/vm.sock"
check_kv "playback: the first guest's signal is in the host WAV sample-exact, silence around it" \
	"${AUDIO[@]}" find "$W/play.wav" "$W/basic-host.wav"
check_kv "both: the signal played while recording is in the host WAV sample-exact" \
	"${AUDIO[@]}" find "$W/play2.wav" "$W/basic-host.wav"
BASIC_S=$(since "$T1")

# ---- 2: a converting guest topology: 44.1 kHz S16 stream, -6 dB volume, host 48 kHz ---------
T2=$(now)
cat >"$W/guest-44k.topo" <<'EOF'
# A guest that can only play 44.1 kHz 16-bit stereo, at -6 dB, into the host's 48 kHz;
# the volume is shown to the guest as a mixer control.
pipeline out {
    source pcm_out stream {
        direction = playback
        formats = [s16]
        rate_min = 44100; rate_max = 44100
        channels_min = 2; channels_max = 2
    }
    node   vol volume { gain = -6dB; control.gain = "PCM Playback Volume" }
    sink   host_out attach { point = "playback"; jack = line-out }
    link pcm_out -> vol -> host_out
}
EOF
if start_daemon convert --guest "vc=$W/vc.sock,topology=$W/guest-44k.topo" --controls \
	--output "$W/convert-host.wav"; then
	ok "serve starts with a guest topology from a file"
else
	not_ok "serve starts with a guest topology from a file" "$(cat "$DLOG")"
fi
guest_exact convert --vhost-user "$W/vc.sock" --controls --amixer --play "$W/play44.wav" \
	--period 441 --buffer 22050
rc=$?
R=$W/convert/results.txt
guest_ok "convert: 44.1 kHz guest plays through src and volume, result=pass" convert $rc
expect "convert: aplay opened the device at 44100 Hz" "$R" play.rate 44100
expect "convert: controls=on: the guest's amixer runs on the card" "$R" amixer.rc 0
# The guest topology's volume control, at the host's -6 dB: 1140 in 0.1 dB steps from -120 dB.
check "convert: the guest's amixer shows the topology's 'PCM Playback Volume' at -6.0 dB (1140)" \
	awk "/name='PCM Playback Volume'/ { f = 1 } f && /: values=/ { ok = \$2 == \"values=1140\"; exit } END { exit !ok }" \
	"$W/convert/guest/amixer.txt"
expect_range "convert: 100 tx completions for 1 s of 441-frame periods" "$R" play.msg.count 99 100
daemon_stops "convert: SIGTERM stops the daemon cleanly"
# 1 s at 44.1 kHz is 48000 frames at 48 kHz (counted above -40 dB: the resampler's filter
# rings below that for about 1 ms at both ends). Expected level: 0.5 * 10^(-6/20).
check_kv "convert: host WAV has both sines at -6.02 dBFS - 6 dB (+-0.02), SNR >= 70 dB, 48000 +- 24 frames" \
	"${AUDIO[@]}" sine "$W/convert-host.wav" --freqs 440,1000 --amp 0.2505936 --tol-db 0.02 --min-snr 70 \
	--frames 48000 --tol-frames 24
CONVERT_S=$(since "$T2")

# ---- 3: two guests mixed into one host output --------------------------------------------
T3=$(now)
if start_daemon mix --guest "ma=$W/ma.sock" --guest "mb=$W/mb.sock" --output "$W/mix-host.wav"; then
	ok "serve starts with two guest sockets"
else
	not_ok "serve starts with two guest sockets" "$(cat "$DLOG")"
fi
guest mix-a --vhost-user "$W/ma.sock" --play "$W/mix-a.wav" "${PL[@]}" &
pa=$!
guest mix-b --vhost-user "$W/mb.sock" --play "$W/mix-b.wav" "${PL[@]}" &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
guest_ok "mix: guest A (440/660 Hz at -12 dBFS, 20 s) plays, result=pass" mix-a $ra
guest_ok "mix: guest B (1000/1500 Hz at -18 dBFS, 20 s) plays at the same time, result=pass" mix-b $rb
daemon_stops "mix: SIGTERM stops the daemon cleanly"
# Per 0.1 s block: each signal present at its level (+-0.2 dB) on both channels, in one
# unbroken run each; where they overlap the block holds both and nothing else (SNR).
# A guest starved by its host (its aplay reports an underrun) leaves a gap that the device
# fills with silence: tolerated, and said.
ua=$(underruns mix-a) ub=$(underruns mix-b)
check_kv "mix: host output holds A and B at their levels, each unbroken, overlapping >= 3 s, SNR >= 60 dB (guest-side underruns: A $ua, B $ub)" \
	"${AUDIO[@]}" blocks "$W/mix-host.wav" --a 440,660:0.25 --b 1000,1500:0.125 --a-runs 1 --b-runs 1 \
	--min-both 3 --min-snr 60 --a-seconds 19.8,20 --b-seconds 19.8,20 --a-gaps "$ua" --b-gaps "$ub"
MIX_S=$(since "$T3")

# ---- 4: a guest killed mid-stream ----------------------------------------------------------
T4=$(now)
if start_daemon kill --guest "ka=$W/ka.sock" --guest "kb=$W/kb.sock" --output "$W/kill-host.wav"; then
	ok "serve starts for the kill test"
else
	not_ok "serve starts for the kill test" "$(cat "$DLOG")"
fi
FD0=$(fds) MAPS0=$(memfd_maps)
guest kill-b --vhost-user "$W/kb.sock" --play "$W/kill-b.wav" "${PL[@]}" &
pb=$!
guest kill-a --vhost-user "$W/ka.sock" --play "$W/kill-a.wav" "${PL[@]}" &
pa=$!
if wait_running ka 40 "$BOOT_TIMEOUT" $pa && wait_running kb 40 60 $pb; then
	ok "kill: both guests are streaming (>= 40 periods each)"
else
	not_ok "kill: both guests are streaming" "$(grep -E 'k[ab]:' "$DLOG" | tail -6 | tr '\n' '|')"
fi
sleep 2
FD1=$(fds) MAPS1=$(memfd_maps)
QPID=$(sed -n 's/.* ka: connected (peer pid \([0-9]*\),.*/\1/p' "$DLOG" | head -1)
if [ -n "$QPID" ] && [ "$(cat "/proc/$QPID/comm" 2>/dev/null)" = qemu-system-x86 ]; then
	kill -KILL "$QPID"
	ok "kill: guest A's QEMU (pid $QPID, from the daemon's peer credentials) killed with SIGKILL"
else
	not_ok "kill: found guest A's QEMU" "pid '$QPID'"
fi
if wait_log 'ka: disconnected' 10; then ok "kill: the daemon notices within 10 s"; else
	not_ok "kill: the daemon notices within 10 s" "$(tail -5 "$DLOG" | tr '\n' '|')"; fi
sleep 0.5
if kill -0 "$DPID" 2>/dev/null; then ok "kill: the daemon survives"; else not_ok "kill: the daemon survives"; fi
FD2=$(fds) MAPS2=$(memfd_maps)
line=$(grep 'ka: disconnected' "$DLOG" | head -1)
nfd=$(sed -n 's/.*streams, \([0-9]*\) fds, \([0-9]*\) guest memory maps.*/\1/p' <<<"$line")
nmap=$(sed -n 's/.*streams, \([0-9]*\) fds, \([0-9]*\) guest memory maps.*/\2/p' <<<"$line")
nstream=$(sed -n 's/.*freed \([0-9]*\) active streams.*/\1/p' <<<"$line")
if [ "${nstream:-0}" -ge 1 ] && [ "${nfd:-0}" -ge 5 ] && [ "${nmap:-0}" -ge 1 ]; then
	ok "kill: the daemon reports A's running stream, ${nfd} fds and ${nmap} memory maps freed"
else
	not_ok "kill: the daemon reports what it freed" "$line"
fi
if [ $((FD1 - FD2)) = "${nfd:-x}" ] && [ $((MAPS1 - MAPS2)) = "${nmap:-x}" ]; then
	ok "kill: /proc/PID agrees: fds $FD1 -> $FD2, guest memory maps $MAPS1 -> $MAPS2"
else
	not_ok "kill: /proc/PID agrees with the report" "fds $FD1 -> $FD2, maps $MAPS1 -> $MAPS2; $line"
fi
wait $pa
wait $pb; rb=$?
guest_ok "kill: guest B played on to the end, result=pass" kill-b $rb
# The guest's kretprobe may miss an event now and then; the device's own count is exact.
expect_range "kill: guest B saw its 600 tx completions" "$W/kill-b/results.txt" play.msg.count 597 600
if grep -q 'kb: disconnected (the connection was closed) .*; stream 0 released, 1440000 frames' "$DLOG"; then
	ok "kill: the device played all 1440000 frames of B's 30 s"
else
	not_ok "kill: the device played all 1440000 frames of B's 30 s" "$(grep 'kb: disconnected' "$DLOG")"
fi
sleep 0.5
FD3=$(fds) MAPS3=$(memfd_maps)
if [ "$FD3" = "$FD0" ] && [ "$MAPS3" = "$MAPS0" ]; then
	ok "kill: with both guests gone the daemon is back to its start: $FD0 fds, $MAPS0 guest memory maps"
else
	not_ok "kill: back to the daemon's start" "fds $FD0 -> $FD3, maps $MAPS0 -> $MAPS3"
fi
guest_exact kill-a2 --vhost-user "$W/ka.sock" --play "$W/kill-a2.wav" "${PL[@]}"
rc=$?
guest_ok "kill: guest A boots again on the same socket and plays, result=pass" kill-a2 $rc
if grep -qE 'ka: connected \(peer pid [0-9]*, connection [2-9]\)' "$DLOG"; then ok "kill: served as a new connection of A"
else not_ok "kill: served as a new connection of A" "$(grep 'ka:' "$DLOG" | tr '\n' '|')"; fi
daemon_stops "kill: SIGTERM stops the daemon cleanly"
check_kv "kill: A's second signal is in the host WAV sample-exact" \
	"${AUDIO[@]}" find "$W/kill-a2.wav" "$W/kill-host.wav"
# B's 30 s: one unbroken run at its level through A's death; A's run ends where A was killed.
# (Blocks are 0.1 s: the run's first and last may be partial, hence 29.8 s.)
ub=$(underruns kill-b)
check_kv "kill: B is unbroken at its level through A's death (one run of its 30 s), A one run (guest-side underruns: B $ub)" \
	"${AUDIO[@]}" blocks "$W/kill-host.wav" --a 440,660:0.25 --b 1000,1500:0.125 --a-runs 1 --b-runs 1 \
	--min-both 2 --min-snr 60 --b-seconds 29.8,30 --b-gaps "$ub"
KILL_S=$(since "$T4")

# ---- 5: usage errors ---------------------------------------------------------------------
out=$("$VIRTDSP" serve --no-tasks --guest "bad=$W/bad.sock,topology=$W/guest-44k.topo" \
	--host-topology /nonexistent.topo 2>&1)
rc=$?
if [ $rc = 2 ] && grep -q 'nonexistent.topo' <<<"$out"; then ok "a missing host topology is a usage error naming the file"
else not_ok "a missing host topology is a usage error naming the file" "rc $rc: $out"; fi
printf 'pipeline p {\n  source s stream { direction = playback }\n  sink a attach { point = "nowhere" }\n  link s -> a\n}\n' \
	>"$W/bad-guest.topo"
out=$("$VIRTDSP" serve --no-tasks --guest "bad=$W/bad.sock,topology=$W/bad-guest.topo" --output "$W/bad.wav" 2>&1)
rc=$?
if [ $rc = 2 ] && grep -q "bad-guest.topo:3:3: the host topology has no attach point 'nowhere'" <<<"$out"; then
	ok "a guest topology naming a missing attach point fails at start with its location"
else
	not_ok "a guest topology naming a missing attach point fails at start" "rc $rc: $out"
fi

TOTAL_S=$(since "$T0")
{
	echo "basic_s=$BASIC_S"
	echo "convert_s=$CONVERT_S"
	echo "mix_s=$MIX_S"
	echo "kill_s=$KILL_S"
	for r in play-record both convert mix-a mix-b kill-b kill-a2; do
		echo "$r.qemu_wall_s=$(result "$W/$r/results.txt" host.wall_s)"
		echo "$r.guest_init_uptime_s=$(result "$W/$r/results.txt" init_uptime_s)"
	done
	for r in play-record convert kill-b; do
		for k in count mean_ms p50_ms p99_ms max_ms under_1ms; do
			echo "$r.play_msg_$k=$(result "$W/$r/results.txt" "play.msg.$k")"
		done
	done
	echo "total_s=$TOTAL_S"
} >"$W/timings.txt"
sed 's/^/# /' "$W/timings.txt"
echo "# files in $W"
echo "1..$n"
[ $failed = 0 ]
