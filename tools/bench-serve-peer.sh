#!/bin/bash
# tools/bench-serve-peer.sh - the peer measurement of bench_serve: one real guest plays
# S16 48 kHz stereo with 10 ms periods (aplay, 4-period buffer) through QEMU's built-in
# virtio-sound-pci on the wav audiodev, then idles for as long in a 10 ms sleep loop.
# Guest side: the tx completion times the harness traces (tools/guest, docs/guest-testing.md).
# Host side: QEMU's CPU time per thread, sampled when the serial console says a phase
# began or ended; playback minus idle is the cost of the stream.
# Prints key=value lines prefixed "peer." on stdout (bench_serve reads them); the rest
# goes to stderr and OUT/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=5
OUT=""
DEVICE=(--builtin)
BACKEND_PID=""
TRIES=3

usage() {
	cat <<EOF
usage: tools/bench-serve-peer.sh [--seconds S] [--out DIR] [--vhost-user SOCKET [--backend-pid PID]]

  --seconds S          seconds of playback, and as many of idle baseline (default 5)
  --out DIR            keep everything here (default: a new directory under \${TMPDIR:-/tmp})
  --vhost-user SOCKET  play through a vhost-user-snd backend instead of the built-in device
  --backend-pid PID    with --vhost-user: also sample that process's CPU time (every thread)
  --tries N            boot again when the guest fails, e.g. aplay underran because the
                       loaded host starved the emulated CPU (default 3 boots at most)

Needs tools/guest/setup-host.sh (QEMU 10) and builds the guest image on first use.
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--vhost-user) DEVICE=(--vhost-user "$2"); shift 2 ;;
	--backend-pid) BACKEND_PID=$2; shift 2 ;;
	--tries) TRIES=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $SECS in '' | *[!0-9.]*) echo "bench-serve-peer: bad --seconds" >&2; exit 2 ;; esac

say() { echo "peer.$1=$2"; }
die() {
	say ok 0
	say error "$1"
	echo "bench-serve-peer: $1" >&2
	exit 1
}

OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/vdservepeer.XXXXXX")}
mkdir -p "$OUT"
TONE=$OUT/tone.wav
python3 "$ROOT/tools/guest/wavtool.py" gen --seconds "$SECS" --rate 48000 --channels 2 "$TONE" >&2 ||
	die "cannot write the test signal"
TICKS=$(awk -v s="$SECS" 'BEGIN { printf "%d", s * 100 }')
if [ "${DEVICE[0]}" = --builtin ]; then
	DEVICE=(--builtin "wav:$OUT/qemu-out.wav")
fi
read -r LOAD_START _ </proc/loadavg
say qemu "$(qemu-system-x86_64 --version | head -1)"

# Per-thread CPU time (ns, schedstat) of process $1 into the associative array named $2.
# shellcheck disable=SC2034  # filled through namerefs
declare -A A_T B_T C_T AB_T BB_T CB_T
sample() {
	local -n into=$2
	local t v
	into=()
	for t in /proc/"$1"/task/*; do
		read -r v _ <"$t/schedstat" 2>/dev/null || continue
		# shellcheck disable=SC2034  # the caller's array, through the nameref
		into[${t##*/}]=$v
	done
}
now() { echo "$EPOCHREALTIME"; }

# One boot. 0 when the guest played and idled and everything was sampled; otherwise 1
# with the reason in WHY.
run_once() {
	local rg p rc phase=0 ser=$OUT/guest/serial.log
	rm -rf "$OUT/guest"
	"$ROOT/tools/guest/run-guest.sh" "${DEVICE[@]}" --play "$TONE" --period 480 --buffer 1920 \
		--sleep-jitter="$TICKS" --out "$OUT/guest" --timeout 600 >"$OUT/run-guest.log" 2>&1 &
	rg=$!
	# QEMU's process: the one whose serial chardev is our file.
	QPID=""
	for _ in $(seq 1 600); do
		for p in $(pgrep -f -- "path=$ser" || true); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = qemu-system-x86 ] && QPID=$p
		done
		[ -n "$QPID" ] && break
		kill -0 "$rg" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$QPID" ]; then
		wait "$rg" || true
		WHY="QEMU did not start (see $OUT/run-guest.log)"
		return 1
	fi
	# Phases from the serial console: "tracing=" comes just before aplay starts,
	# "play.rc=" once it has ended (the sleep loop is next), "jitter.iterations=" at its end.
	while kill -0 "$rg" 2>/dev/null; do
		if [ $phase = 0 ] && grep -q '^VDTEST: tracing=' "$ser" 2>/dev/null; then
			sample "$QPID" A_T; [ -z "$BACKEND_PID" ] || sample "$BACKEND_PID" AB_T; TA=$(now); phase=1
		fi
		if [ $phase = 1 ] && grep -q '^VDTEST: play.rc=' "$ser" 2>/dev/null; then
			sample "$QPID" B_T; [ -z "$BACKEND_PID" ] || sample "$BACKEND_PID" BB_T; TB=$(now); phase=2
		fi
		if [ $phase = 2 ] && grep -q '^VDTEST: jitter.iterations=' "$ser" 2>/dev/null; then
			sample "$QPID" C_T; [ -z "$BACKEND_PID" ] || sample "$BACKEND_PID" CB_T; TC=$(now); phase=3
			break
		fi
		sleep 0.02
	done
	rc=0
	wait "$rg" || rc=$?
	if [ $rc != 0 ]; then
		WHY="run-guest.sh exit $rc: $(sed -n 's/^VDTEST: error=//p' "$ser" | tr '\n' ' ')"
		if grep -q 'VDLOG: aplay: underrun' "$ser"; then WHY="$WHY(aplay underran: the guest was starved)"; fi
		return 1
	fi
	if [ $phase != 3 ]; then
		WHY="the guest's phases were not all seen on the serial console"
		return 1
	fi
	return 0
}

ATTEMPTS=0
WHY=""
while :; do
	ATTEMPTS=$((ATTEMPTS + 1))
	run_once && break
	echo "bench-serve-peer: attempt $ATTEMPTS: $WHY" >&2
	say failed_attempt "$WHY"
	[ "$ATTEMPTS" -lt "$TRIES" ] || die "$WHY ($ATTEMPTS attempts; see $OUT/run-guest.log)"
done
read -r LOAD_END _ </proc/loadavg
say attempts "$ATTEMPTS"

# Sums over threads: main (tid = pid), the vCPU (the busiest other thread), all.
cpu_of() { # array-name tid|all -> ns
	local -n a=$1
	local s=0 k
	if [ "$2" = all ]; then
		# shellcheck disable=SC2004  # the key of an associative array needs its $
		for k in "${!a[@]}"; do s=$((s + a[$k])); done
	else
		s=${a[$2]:-0}
	fi
	echo "$s"
}
VCPU="" best=0
for k in "${!C_T[@]}"; do
	[ "$k" = "$QPID" ] && continue
	d=$((C_T[$k] - ${A_T[$k]:-0}))
	if [ $d -gt $best ]; then best=$d; VCPU=$k; fi
done
sec() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }
PLAY_S=$(awk -v a="$TA" -v b="$TB" 'BEGIN { printf "%.3f", b - a }')
IDLE_S=$(awk -v a="$TB" -v b="$TC" 'BEGIN { printf "%.3f", b - a }')
MAIN_P=$(sec "$(cpu_of A_T "$QPID")" "$(cpu_of B_T "$QPID")")
MAIN_I=$(sec "$(cpu_of B_T "$QPID")" "$(cpu_of C_T "$QPID")")
VCPU_P=$(sec "$(cpu_of A_T "$VCPU")" "$(cpu_of B_T "$VCPU")")
VCPU_I=$(sec "$(cpu_of B_T "$VCPU")" "$(cpu_of C_T "$VCPU")")
ALL_P=$(sec "$(cpu_of A_T all)" "$(cpu_of B_T all)")
ALL_I=$(sec "$(cpu_of B_T all)" "$(cpu_of C_T all)")
say ok 1
say accel "$(sed -n 's/^host.accel=//p' "$OUT/guest/results.txt")"
say kernel "$(sed -n 's/^kernel=//p' "$OUT/guest/results.txt" | head -1)"
say play_s "$PLAY_S"
say idle_s "$IDLE_S"
say main_play_cpu_s "$MAIN_P"
say main_idle_cpu_s "$MAIN_I"
say vcpu_play_cpu_s "$VCPU_P"
say vcpu_idle_cpu_s "$VCPU_I"
say all_play_cpu_s "$ALL_P"
say all_idle_cpu_s "$ALL_I"
# The play phase includes aplay's start (seconds under TCG) before the first period
# flows, so: CPU above the idle rate over the whole play phase, per second that audio
# actually flowed (first to last tx completion, guest clock).
first=$(sed -n 's/^play.msg.first_s=//p' "$OUT/guest/results.txt")
last=$(sed -n 's/^play.msg.last_s=//p' "$OUT/guest/results.txt")
STREAM_S=$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.3f", b - a }')
say stream_s "$STREAM_S"
rate() { awk -v p="$1" -v ps="$PLAY_S" -v i="$2" -v is="$IDLE_S" -v ss="$STREAM_S" \
	'BEGIN { printf "%.1f", (p - i / is * ps) / ss * 1e6 }'; }
say main_us_per_s "$(rate "$MAIN_P" "$MAIN_I")"
say all_us_per_s "$(rate "$ALL_P" "$ALL_I")"
if [ -n "$BACKEND_PID" ]; then
	BP=$(sec "$(cpu_of AB_T all)" "$(cpu_of BB_T all)")
	BI=$(sec "$(cpu_of BB_T all)" "$(cpu_of CB_T all)")
	say backend_play_cpu_s "$BP"
	say backend_idle_cpu_s "$BI"
	say backend_us_per_s "$(rate "$BP" "$BI")"
fi

# Guest-side completion intervals from the trace: every tx buffer the driver took back.
TRACE=$OUT/guest/guest/trace.txt
[ -s "$TRACE" ] || die "no guest trace ($TRACE)"
grep ' msg: .*vq="virtsnd-tx"' "$TRACE" |
	awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { sub(":", "", $i); print $i; break } }' |
	awk 'NR > 1 { printf "%.6f\n", ($1 - prev) * 1000 } { prev = $1 }' >"$OUT/intervals.txt"
sort -n "$OUT/intervals.txt" >"$OUT/intervals.sorted"
awk '{ d = $1 - 10; print (d < 0 ? -d : d) }' "$OUT/intervals.txt" | sort -n >"$OUT/deviations.sorted"
N_IV=$(wc -l <"$OUT/intervals.sorted")
[ "$N_IV" -gt 0 ] || die "no tx completions in the guest trace"
# percentile p of a sorted file: the value at rank round(p * n), as bench_serve computes it
pct() { awk -v p="$2" -v n="$N_IV" 'BEGIN { i = int(p * n + 0.5); if (i < 1) i = 1; if (i > n) i = n } NR == i { print; exit }' "$1"; }
say completions $((N_IV + 1))
say doubles "$(awk '$1 < 5 { n++ } END { print n + 0 }' "$OUT/intervals.txt")"
say iv_mean_ms "$(awk '{ s += $1 } END { printf "%.3f", s / NR }' "$OUT/intervals.txt")"
say iv_min_ms "$(head -1 "$OUT/intervals.sorted")"
say iv_p50_ms "$(pct "$OUT/intervals.sorted" 0.50)"
say iv_p99_ms "$(pct "$OUT/intervals.sorted" 0.99)"
say iv_max_ms "$(tail -1 "$OUT/intervals.sorted")"
say dev_p50_ms "$(pct "$OUT/deviations.sorted" 0.50)"
say dev_p99_ms "$(pct "$OUT/deviations.sorted" 0.99)"
say dev_max_ms "$(tail -1 "$OUT/deviations.sorted")"
say load_start "$LOAD_START"
say load_end "$LOAD_END"
echo "bench-serve-peer: files in $OUT" >&2
