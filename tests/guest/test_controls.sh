#!/usr/bin/env bash
# tests/guest/test_controls.sh [VIRTDSP] - guest mixer controls end to end: two unmodified
# Debian 6.12 guests under QEMU 10 (TCG) with vhost-user-snd-pci,controls=on on `virtdsp serve
# --controls`, each with examples/guest-controls.topo (an EQ band type, a volume with its mute)
# on its own host attach point and output file. Guest A's amixer lists the controls with their
# ranges and dB scale, then changes volume, mute and EQ while it plays a tone; on the host the
# levels in A's output change by the expected dB, muting gives exact zeros, and guest B, playing
# at the same time, stays at its level throughout. While A still plays, a host-side `virtdsp ctl
# set` changes its level and is seen by A's amixer (value read back, CTL_NOTIFY seen by `amixer
# events`); `virtdsp ctl get/events` and the state file show what each guest changed. TAP output.
# VIRTDSP: the binary (default $VD_BUILD_ROOT/src/cli/virtdsp, else build/src/cli/virtdsp).
# VD_GUEST_TEST_OUT=DIR keeps the run's files there.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=$ROOT/tools/guest
VIRTDSP=${1:-${VIRTDSP:-${VD_BUILD_ROOT:-$ROOT/build}/src/cli/virtdsp}}
LEVELS=(python3 "$ROOT/tests/guest/test_controls_audio.py" levels)
W=${VD_GUEST_TEST_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/vdcontrols-test.XXXXXX")}
mkdir -p "$W"
W=$(cd "$W" && pwd)
BOOT_TIMEOUT=${VD_SERVE_BOOT_TIMEOUT:-400}
# Two TCG guests at once: 50 ms periods in a 1 s buffer (the topology allows it).
PL=(--period 2400 --buffer 48000)

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { # description, command...
	local d=$1; shift
	local out
	if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d" "command: $*" "${out//$'\n'/ | }"; fi
}
check_kv() { # description, command... : its key=value output in the line
	local d=$1; shift
	local out
	if out=$("$@" 2>&1); then
		ok "$d ($(grep -v '^result=' <<<"$out" | tr '\n' ' ' | sed 's/ $//'))"
	else
		not_ok "$d" "command: $*" "${out//$'\n'/ | }"
	fi
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
result() { sed -n "s/^$2=//p" "$1" | head -1; }
expect() { # description, results file, key, expected value
	local v
	v=$(result "$2" "$3")
	if [ "$v" = "$4" ]; then ok "$1"; else not_ok "$1" "$3 is '$v', expected '$4'"; fi
}
has() { # description, file, fixed string (one line of the file contains it)
	if grep -qF -- "$3" "$2" 2>/dev/null; then ok "$1"; else
		not_ok "$1" "no line with: $3" "$(head -c 600 "$2" 2>/dev/null | tr '\n' '|')"
	fi
}
# The control's block in `amixer contents`/`cget` output: its lines up to the next numid=.
element() { # file, name
	awk -v n="name='$2'" 'index($0, n) { f = 1; print; next } /^numid=/ { f = 0 } f' "$1"
}
has_element() { # description, file, control name, fixed strings that its block must hold...
	local d=$1 f=$2 name=$3 s blk
	shift 3
	blk=$(element "$f" "$name")
	for s in "$@"; do
		if ! grep -qF -- "$s" <<<"$blk"; then
			not_ok "$d" "'$name' lacks: $s" "${blk//$'\n'/ | }"
			return
		fi
	done
	ok "$d"
}

DPID="" DLOG=""
start_daemon() { # tag, serve arguments... (waits until every guest socket listens)
	local tag=$1; shift
	local guests
	guests=$(printf '%s\n' "$@" | grep -c '^--guest$')
	DLOG=$W/$tag.daemon.log
	"$VIRTDSP" serve --no-tasks "$@" 2>"$DLOG" &
	DPID=$!
	for _ in $(seq 100); do
		[ "$(grep -c 'listening on' "$DLOG")" -ge "$guests" ] && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
stop_daemon() { # SIGTERM, wait up to 30 s; the exit status (124: did not stop)
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
guest() { # tag, run-guest.sh arguments...
	local tag=$1; shift
	"$G/run-guest.sh" --timeout "$BOOT_TIMEOUT" --out "$W/$tag" "$@" >"$W/$tag.log" 2>&1
}
guest_ok() { # description, tag, status
	if [ "$3" = 0 ]; then ok "$1"; else
		not_ok "$1" "run-guest.sh exit $3" \
			"$(grep -v '^VDTEST: pkg' "$W/$2.log" | tail -15 | tr '\n' '|')" \
			"daemon: $(tail -5 "$DLOG" | tr '\n' '|')"
	fi
}
xruns() { grep -cE '(under|over)run!!!' "$W/$1/serial.log" 2>/dev/null; }
# Until the guest's console has "VDTEST: KEY=..." (seconds), or its run-guest.sh (pid) ended.
wait_console() { # tag, key, seconds, pid
	for _ in $(seq $(($3 * 10))); do
		grep -q "^VDTEST: $2=" "$W/$1/serial.log" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# A line to a guest's script (its hostwait steps). The FIFO has a reader only while QEMU runs.
send() { # tag, word
	[ -p "$W/$1/hostin.in" ] || return 1
	# shellcheck disable=SC2016
	timeout 10 bash -c 'echo "$1" >"$2"' _ "$2" "$W/$1/hostin.in"
}

T0=$(now)

# ---- host set-up, image, topologies, signals ---------------------------------------------
check "setup-host.sh installs QEMU >= 10 and the host tools" "$G/setup-host.sh"
check "build-image.sh builds the guest kernel and initramfs" "$G/build-image.sh"
check "virtdsp binary is there ($VIRTDSP)" test -x "$VIRTDSP"

# Each guest on its own attach point and output file, so that "unaffected" is B's whole file.
cat >"$W/host.topo" <<'EOF'
pipeline host {
    rate = 48000
    period = 2ms
    attach a playback { channels = 2 }
    sink   out_a file { path = "a.wav"; format = s16 }
    link a -> out_a
    attach b playback { channels = 2 }
    sink   out_b file { path = "b.wav"; format = s16 }
    link b -> out_b
}
EOF
for g in a b; do
	sed "s/point = \"playback\"/point = \"$g\"/" "$ROOT/examples/guest-controls.topo" >"$W/guest-$g.topo"
done
python3 "$G/wavtool.py" gen "$W/tone-a.wav" --seconds 24 --freqs 440,1000 --amplitude 0.5
python3 "$G/wavtool.py" gen "$W/tone-b.wav" --seconds 45 --freqs 440,1000 --amplitude 0.5

CTL=("$VIRTDSP" ctl --socket "$W/ctl.sock")

# The host orders the two guests through their second serial ports (--host-input): B starts
# its tone when both have booted, A starts when B plays, B stops when A is done.
# Guest A: list, then change volume (in dB, through the TLV), mute, unmute and the EQ band's
# type while the tone plays, 2 s apart; then, still playing, wait for the host's change of
# its volume and read it.
cat >"$W/a.script" <<'EOF'
amixer contents contents
amixer vol_info cget "name='PCM Playback Volume'"
amixer sw_info cget "name='PCM Playback Switch'"
amixer eq_info cget "name='EQ Band1 Type'"
amixer simple scontents
events ev
say a_ready 1
hostwait go 600
bgplay tone tone-a.wav
sleep 2
amixer set_vol -- sset PCM -12dB
sleep 2
amixer mute sset PCM mute
sleep 2
amixer unmute sset PCM unmute
sleep 2
amixer eq_set cset "name='EQ Band1 Type'" lowpass
sleep 2
say host_go ctl
hostwait ctl_done 120
amixer host_vol cget "name='PCM Playback Volume'"
amixer host_simple sget PCM
wait tone
amixer after_play cget "name='PCM Playback Volume'"
stop ev
EOF
# Guest B: plays its tone (longer than A's) until the host stops it, touching nothing.
cat >"$W/b.script" <<'EOF'
hostwait go 600
bgplay tone tone-b.wav
sleep 0.5
say b_playing 1
hostwait stop 600
stop tone
amixer after_play cget "name='PCM Playback Volume'"
amixer sw_after cget "name='PCM Playback Switch'"
amixer eq_after cget "name='EQ Band1 Type'"
EOF

# ---- the run: two guests at once ---------------------------------------------------------
T1=$(now)
# Control values persist per guest name (--state-file): a state file of this run's own, so
# that every run starts from the topology's values.
rm -f "$W/state"
if start_daemon controls --controls --host-topology "$W/host.topo" --ctl-socket "$W/ctl.sock" --state-file "$W/state" \
	--guest "a=$W/a.sock,topology=$W/guest-a.topo" --guest "b=$W/b.sock,topology=$W/guest-b.topo" \
	--output "out_a=$W/a.wav" --output "out_b=$W/b.wav"; then
	ok "serve starts with two guests on examples/guest-controls.topo, with controls"
else
	not_ok "serve starts with two guests on examples/guest-controls.topo, with controls" "$(cat "$DLOG")"
fi
guest b --vhost-user "$W/b.sock" --controls --host-input --script "$W/b.script" --data "$W/tone-b.wav" \
	"${PL[@]}" &
pb=$!
guest a --vhost-user "$W/a.sock" --controls --host-input --script "$W/a.script" --data "$W/tone-a.wav" \
	"${PL[@]}" &
pa=$!
# The daemon's control events while the guests run: A's four changes and the host's one.
"${CTL[@]}" --json events --count 5 --timeout "$BOOT_TIMEOUT" control >"$W/events.json" 2>"$W/events.err" &
EVENTS_PID=$!
SYNC=""
if wait_console a a_ready "$BOOT_TIMEOUT" $pa && wait_console b hostin "$BOOT_TIMEOUT" $pb && send b go &&
	wait_console b b_playing 120 $pb && send a go; then
	SYNC=ok
else
	SYNC="stuck: A ready $(grep -c '^VDTEST: a_ready' "$W/a/serial.log"), B listening $(grep -c \
		'^VDTEST: hostin=' "$W/b/serial.log"), B playing $(grep -c '^VDTEST: b_playing' "$W/b/serial.log")"
	# Let whichever guest still runs finish its script.
	send a go
	send b go
fi
CTL_RC="" CTL_OUT="" GET_A="" GET_B=""
if [ "$SYNC" = ok ] && wait_console a host_go "$BOOT_TIMEOUT" $pa; then
	GET_A=$("${CTL[@]}" --json get a "PCM Playback Volume" 2>&1)
	GET_B=$("${CTL[@]}" --json get b "PCM Playback Volume" 2>&1)
	CTL_OUT=$("${CTL[@]}" set a "PCM Playback Volume" -20 2>&1)
	CTL_RC=$?
fi
# Also on failure: A goes on to its end.
send a ctl_done
wait $pa; ra=$?
send b stop
wait $pb; rb=$?
# It ends by itself after the 5 events; with fewer, it is not waited for much longer.
for _ in $(seq 50); do kill -0 "$EVENTS_PID" 2>/dev/null || break; sleep 0.1; done
kill "$EVENTS_PID" 2>/dev/null
wait "$EVENTS_PID"
EVENTS_RC=$?
if [ "$SYNC" = ok ]; then ok "the host ordered the guests: B plays, then A plays and changes its controls"
else not_ok "the host ordered the guests" "$SYNC"; fi
guest_ok "guest A lists, changes its controls while playing, result=pass" a $ra
guest_ok "guest B plays at the same time until the host stops it, result=pass" b $rb
stop_daemon
rc=$?
if [ $rc = 0 ]; then ok "SIGTERM stops the daemon cleanly"; else not_ok "SIGTERM stops the daemon cleanly" "exit $rc"; fi
RUN_S=$(since "$T1")

# ---- what guest A's amixer saw -------------------------------------------------------------
GA=$W/a/guest
has_element "amixer contents: 'PCM Playback Volume' is an integer 0..1440 at 1140 (-6 dB)" \
	"$GA/contents.txt" "PCM Playback Volume" "type=INTEGER,access=rw---R--,values=1,min=0,max=1440,step=1" \
	": values=1140"
has_element "amixer contents: its dB TLV is a DB_SCALE from -120.00 dB in 0.10 dB steps (-120..+24 dB)" \
	"$GA/contents.txt" "PCM Playback Volume" "| dBscale-min=-120.00dB,step=0.10dB,mute=0"
has_element "amixer contents: 'PCM Playback Switch' is a boolean, on" \
	"$GA/contents.txt" "PCM Playback Switch" "type=BOOLEAN,access=rw------,values=1" ": values=on"
has_element "amixer contents: 'EQ Band1 Type' is an enumeration of the eq node's 8 filter types, at peaking" \
	"$GA/contents.txt" "EQ Band1 Type" "type=ENUMERATED,access=rw------,values=1,items=8" \
	"; Item #0 'peaking'" "; Item #3 'lowpass'" "; Item #5 'notch'" "; Item #7 'allpass'" ": values=0"
nctl=$(grep -c '^numid=' "$GA/contents.txt" 2>/dev/null)
if [ "$nctl" = 5 ] && grep -q "name='Line Out Jack'" "$GA/contents.txt" &&
	grep -q "name='Playback Channel Map'" "$GA/contents.txt"; then
	ok "amixer contents: 5 elements: the 3 declared, the line-out jack, the channel map"
else
	not_ok "amixer contents: 5 elements" "$nctl: $(grep '^numid=' "$GA/contents.txt" | tr '\n' '|')"
fi
has_element "amixer cget of the volume alone shows the same range and dB scale" "$GA/vol_info.txt" \
	"PCM Playback Volume" "min=0,max=1440,step=1" ": values=1140" "dBscale-min=-120.00dB,step=0.10dB"
has "amixer scontents: one simple control 'PCM' with volume and switch" "$GA/simple.txt" \
	"Capabilities: pvolume pvolume-joined pswitch pswitch-joined"
has "amixer scontents: 'PCM' at -6.00 dB, on" "$GA/simple.txt" "Mono: Playback 1140 [79%] [-6.00dB] [on]"
has "amixer sset PCM -12dB: the guest's mixer reads back 1080 [-12.00dB]" "$GA/set_vol.txt" \
	"Mono: Playback 1080 [75%] [-12.00dB] [on]"
has "amixer sset PCM mute: the switch reads back off" "$GA/mute.txt" "[-12.00dB] [off]"
has "amixer sset PCM unmute: the switch reads back on" "$GA/unmute.txt" "[-12.00dB] [on]"
has "amixer cset 'EQ Band1 Type' lowpass: reads back item 3" "$GA/eq_set.txt" ": values=3"
has "after the tone: the volume is the host's 1000" "$GA/after_play.txt" ": values=1000"

# ---- what guest B's amixer saw: A's changes are not B's ----------------------------------------
GB=$W/b/guest
has "guest B: its volume is still 1140 (-6 dB) after A's changes" "$GB/after_play.txt" ": values=1140"
has "guest B: its switch is still on" "$GB/sw_after.txt" ": values=on"
has "guest B: its EQ band is still peaking" "$GB/eq_after.txt" ": values=0"

# ---- levels on the host ------------------------------------------------------------------------
# Tone at 0.5 of full scale (-6.02 dB) through the topology's -6 dB: -12.02. The guest's
# -12 dB: -18.02, a change of -6.00. Muted: exact zeros; unmuted: back at -18.02. The EQ band
# (1 kHz, Q 2) turned into a lowpass: the 1 kHz channel rises by the filter's gain at its
# corner, Q = 2 (+6.021 dB); the 440 Hz channel by the lowpass's response there, +1.553 dB
# (|H(e^jw)| of the bilinear-transform biquad, w = 2 pi 440/48000).
# Last, the host's -20 dB (virtdsp ctl): -8.000 dB on both channels.
X=$(xruns a)
check_kv "host A.wav: -12.02 dB, then -18.02 (-6.00 +- 0.05 dB), exact zeros while muted, -18.02 again, then EQ lowpass: 1 kHz +6.02 dB, 440 Hz +1.55 dB, then the host's -20 dB: -8.00 dB (guest A's underruns: ${X:-?})" \
	"${LEVELS[@]}" "$W/a.wav" --tol-db 0.05 \
	--expect-0=-12.021,-18.021,zero,-18.021,-16.467,-24.467 --expect-1=-12.021,-18.021,zero,-18.021,-12.000,-20.000 \
	--delta 0:1:2:-6 --delta 1:1:2:-6 --delta 0:2:4:0 --delta 1:4:5:6.021 --delta 0:4:5:1.553 \
	--delta 0:5:6:-8 --delta 1:5:6:-8 --max-interruptions "${X:-0}"
# A's first and last steady segment bound the time in which it changed its controls.
a_span=$("${LEVELS[@]}" "$W/a.wav" --expect-0=~ 2>/dev/null | sed -n 's/^ch0\.seg[0-9]*=.*@\([0-9.]*\)-\([0-9.]*\)s$/\1 \2/p' |
	awk 'NR == 1 { s = $1 } { e = $2 } END { if (NR) printf "%s,%s", s, e }')
X=$(xruns b)
check_kv "host B.wav: guest B's tone stays at -12.02 dB (+-0.05) in one unbroken segment over all of A's changes (${a_span:-no A}; guest B's underruns: ${X:-?})" \
	"${LEVELS[@]}" "$W/b.wav" --tol-db 0.05 --expect-0=-12.021 --expect-1=-12.021 \
	--cover "${a_span:-0,1e9}" --max-interruptions "${X:-0}"

# ---- the host's change, seen by the guest ----------------------------------------------------
if [ "$CTL_RC" = 0 ]; then ok "virtdsp ctl set a 'PCM Playback Volume' -20 succeeds"; else
	not_ok "virtdsp ctl set a 'PCM Playback Volume' -20 succeeds" "rc '$CTL_RC': $CTL_OUT"; fi
value_of() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])["result"]["value"])' "$1" 2>/dev/null; }
v=$(value_of "$GET_A")
if [ "$v" = -12 ] || [ "$v" = -12.0 ]; then ok "virtdsp ctl get a: the guest's own change is seen by the host (-12 dB)"
else not_ok "virtdsp ctl get a: the guest's own change is seen by the host (-12 dB)" "$GET_A"; fi
v=$(value_of "$GET_B")
if [ "$v" = -6 ] || [ "$v" = -6.0 ]; then ok "virtdsp ctl get b: B's volume is still the topology's -6 dB"
else not_ok "virtdsp ctl get b: B's volume is still the topology's -6 dB" "$GET_B"; fi
# The daemon's control events: A's four writes by the guest, then the host's set; B none.
evs=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print("%s %s=%g by %s" % (e["guest"], e["control"].replace(" ", "_"), e["value"], e["by"]))
' "$W/events.json" 2>&1)
want="a PCM_Playback_Volume=-12 by guest
a PCM_Playback_Switch=0 by guest
a PCM_Playback_Switch=1 by guest
a EQ_Band1_Type=3 by guest
a PCM_Playback_Volume=-20 by host"
if [ "$EVENTS_RC" = 0 ] && [ "$evs" = "$want" ]; then
	ok "virtdsp ctl events: A's volume, mute, unmute and EQ by the guest, then the host's volume; none from B"
else
	not_ok "virtdsp ctl events: A's changes by the guest, then the host's" "rc '$EVENTS_RC'" \
		"${evs//$'\n'/ | }" "$(tr '\n' '|' <"$W/events.err")"
fi
# Each event's time (seconds since the daemon started, which is when the host files
# start) falls in the transition between the two steady segments of A.wav it caused:
# the control reaches the sound within a block (0.1 s) or two.
segs=$("${LEVELS[@]}" "$W/a.wav" --expect-0=~ 2>/dev/null | sed -n 's/^ch0\.seg[0-9]*=.*@\([0-9.]*\)-\([0-9.]*\)s$/\1 \2/p')
if lat=$(python3 -c '
import json, sys
segs = [tuple(map(float, l.split())) for l in sys.argv[1].splitlines()]
evs = [json.loads(l)["time"] for l in open(sys.argv[2])]
if len(segs) != len(evs) + 1:
    print("segments %d for %d events" % (len(segs), len(evs))); sys.exit(1)
bad = 0
for k, t in enumerate(evs):
    lo, hi = segs[k][1], segs[k + 1][0]
    bad += not (lo - 0.25 <= t <= hi + 0.25)
    print("%.2f in %.1f-%.1f" % (t, lo, hi))
sys.exit(bad != 0)
' "$segs" "$W/events.json" 2>&1); then
	ok "each change is heard where its event says, within 0.25 s (event s in A.wav's transition s: ${lat//$'\n'/, })"
else
	not_ok "each change is heard where its event says, within 0.25 s" "${lat//$'\n'/ | }"
fi
has "guest A's amixer reads the host's value: 1000 (-20 dB)" "$GA/host_vol.txt" ": values=1000"
has "guest A's simple control shows -20.00 dB" "$GA/host_simple.txt" "Mono: Playback 1000 [69%] [-20.00dB] [on]"
# amixer events prints each ALSA control event on the console. The guest's own writes
# raise none (virtio_snd's put returns 0, "unchanged"), so a value event for the volume
# can only come from the device's CTL_NOTIFY.
if sed -n '/^VDTEST: host_go=ctl/,$p' "$W/a/serial.log" |
	grep -q "event value: numid=[0-9]*,iface=MIXER,name='PCM Playback Volume'"; then
	ok "guest A's 'amixer events' got the volume's change event after the host's set"
else
	not_ok "guest A's 'amixer events' got the volume's change event after the host's set" \
		"$(grep -a 'event\|host_go' "$W/a/serial.log" | tail -8 | tr '\n' '|')"
fi

# ---- the daemon's state file: A's last values, nothing for B ----------------------------------
# (docs/serve.md, "State file": rewritten on every change, so B, which changed nothing, has no
# entry.) A's volume is the host's -20 dB.
want_vol=-20
st=$(awk '/^guest / { g = $2 } g && NF { print g ": " $0 }' "$W/state" 2>/dev/null)
if grep -qxF "\"a\":     \"PCM Playback Volume\" = $want_vol" <<<"$st" &&
	grep -qxF '"a":     "PCM Playback Switch" = 1' <<<"$st" &&
	grep -qxF '"a":     "EQ Band1 Type" = 3' <<<"$st" && ! grep -q '^"b"' <<<"$st"; then
	ok "state file: guest A at $want_vol dB, switch on, EQ lowpass (3); no values for B"
else
	not_ok "state file: guest A's last values, nothing for B" "${st//$'\n'/ | }"
fi

# ---- the step language's failures fail the run -------------------------------------------
# QEMU's built-in device (no controls, no daemon): a failing amixer step and a hostwait
# without --host-input are reported with their step numbers, the script goes on, and
# run-guest.sh exits 1.
cat >"$W/bad.script" <<'EOF'
# a comment line, then a failing step
amixer missing cget "name='No Such Control'"
hostwait go 5
say after_failures 1
EOF
guest bad --builtin none --script "$W/bad.script"
rc=$?
R=$W/bad/results.txt
if [ $rc = 1 ] && grep -qx 'error=script_2_missing_rc_1' "$R" && grep -qx 'error=script_3_no_host_input' "$R" &&
	grep -qx 'after_failures=1' "$R" && grep -qx 'result=fail' "$R"; then
	ok "a failing amixer step and a hostwait without host input fail the run, named by step; the script goes on"
else
	not_ok "failing steps fail the run, named by step" "rc $rc" "$(grep -E '^(error|after|result)' "$R" 2>/dev/null | tr '\n' '|')"
fi

TOTAL_S=$(since "$T0")
{
	echo "run_s=$RUN_S"
	for r in a b; do
		echo "$r.qemu_wall_s=$(result "$W/$r/results.txt" host.wall_s)"
		echo "$r.guest_init_uptime_s=$(result "$W/$r/results.txt" init_uptime_s)"
	done
	echo "a.go_to_host_go_s=$(awk -v a="$(result "$W/a/results.txt" hostwait.go)" \
		-v b="$(result "$W/a/results.txt" hostwait.ctl_done)" 'BEGIN { if (a != "" && b != "") printf "%.2f", b - a }')"
	echo "total_s=$TOTAL_S"
} >"$W/timings.txt"
sed 's/^/# /' "$W/timings.txt"
echo "# files in $W"
echo "1..$n"
[ $failed = 0 ]
