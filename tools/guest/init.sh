#!/bin/sh
# /init of the virtdsp test guest (busybox sh): loads the stock sound modules, waits for the
# virtio-snd PCM, runs the scenario named on the kernel command line (vdtest.*), reports
# results as "VDTEST: key=value" lines (and raw tool output as "VDLOG: tag: line") on the
# serial console, copies output files to the scratch disk as a tar, and powers off.

/bin/busybox mount -t devtmpfs devtmpfs /dev
# The initramfs has no /dev/console node, so the kernel started us without stdio.
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /out /tmp

RESULTS=/out/results.txt
FAILED=""
T=/sys/kernel/tracing

say() { echo "VDTEST: $1=$2"; echo "$1=$2" >>"$RESULTS"; }
vlog() { # tag file
	sed "s/^/VDLOG: $1: /" "$2"
}
fail() { # reason
	say error "$1"
	FAILED="$FAILED $1"
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }

say init_uptime_s "$(uptime_s)"
say kernel "$(uname -r)"
while read -r pkg ver; do say "pkg.$pkg" "$ver"; done </etc/vdtest-versions

# --- options from the kernel command line ------------------------------------------------
PLAY="" RECORD="" SUSPEND="" BOTH=0 AMIXER=0 JITTER=0 PERIOD="" BUFFER="" TRACE=1 DEV=hw:0,0 CMD_TIMEOUT=120
SCRIPT="" HOSTIN=0
read -r CMDLINE </proc/cmdline
for arg in $CMDLINE; do
	case $arg in
	vdtest.play=*) PLAY=${arg#*=} ;;
	vdtest.record=*) RECORD=${arg#*=} ;;
	vdtest.both) BOTH=1 ;;
	vdtest.amixer) AMIXER=1 ;;
	vdtest.sleep_jitter) JITTER=500 ;;
	vdtest.sleep_jitter=*) JITTER=${arg#*=} ;;
	vdtest.period=*) PERIOD=${arg#*=} ;;
	vdtest.buffer=*) BUFFER=${arg#*=} ;;
	vdtest.trace=*) TRACE=${arg#*=} ;;
	vdtest.device=*) DEV=${arg#*=} ;;
	vdtest.timeout=*) CMD_TIMEOUT=${arg#*=} ;;
	vdtest.script=*) SCRIPT=/data/${arg#*=} ;;
	vdtest.hostin) HOSTIN=1 ;;
	vdtest.suspend=*) SUSPEND=${arg#*=} ;;
	esac
done
case $PLAY in "" | /*) ;; *) PLAY=/data/$PLAY ;; esac

# The host's messages (run-guest.sh --host-input) arrive on the second serial port. It is
# opened now: a UART drops what arrives while its tty is closed. Raw, without echo.
if [ $HOSTIN = 1 ]; then
	if exec 4<>/dev/ttyS1 && stty -F /dev/ttyS1 raw -echo; then say hostin ready; else fail hostin_tty; fi
fi

# --- modules -------------------------------------------------------------------------------
while read -r m; do
	insmod "/lib/modules/vd/$m.ko" || fail "insmod_$m"
done </lib/modules/vd/order
say modules_uptime_s "$(uptime_s)"

# The card appears asynchronously after the driver's probe queries the device.
n=0
while [ ! -e /dev/snd/pcmC0D0p ] && [ ! -e /dev/snd/pcmC0D0c ] && [ $n -lt 500 ]; do
	usleep 10000
	n=$((n + 1))
done
if [ -e /dev/snd/pcmC0D0p ] || [ -e /dev/snd/pcmC0D0c ]; then
	say pcm_ready_uptime_s "$(uptime_s)"
	say card "$(sed -n 's/^ *0 \[\([^] ]*\) *\].*: \(.*\)$/\1: \2/p' /proc/asound/cards | head -1)"
	for d in /dev/snd/pcm*; do say "pcm.$(basename "$d")" present; done
	cat /proc/asound/cards /proc/asound/pcm >/tmp/asound.txt 2>&1
	vlog asound /tmp/asound.txt
else
	fail no_pcm_device
	dmesg | tail -30 >/tmp/dmesg.txt; vlog dmesg /tmp/dmesg.txt
fi

# --- period timing: ftrace, so timestamps come from the guest's own monotonic clock -------
# Two probes, both on stock kernel functions:
# - vdtest/msg: every buffer the driver takes back from the tx/rx virtqueue
#   (virtqueue_get_buf returning non-NULL), i.e. each period the device completed, with
#   the queue's name (struct virtqueue.name at offset 24). Two periods completed by one
#   interrupt show up as two events microseconds apart.
# - vdtest/period: snd_pcm_period_elapsed, what ALSA sees; the driver calls it from a work
#   item, so completions that arrive together are merged into one call. It records the
#   substream's direction (struct snd_pcm_substream.stream, offset 60 in 6.12).
TRACING=""
if [ "$TRACE" = 1 ] && mount -t tracefs tracefs $T 2>/dev/null && [ -w $T/trace_marker ]; then
	echo mono >$T/trace_clock
	echo 4096 >$T/buffer_size_kb
	# shellcheck disable=SC2016
	if echo 'r:vdtest/msg virtqueue_get_buf vq=+0(+24($arg1)):string ret=$retval:x64' >>$T/kprobe_events 2>/dev/null &&
		echo 'ret != 0' >$T/events/vdtest/msg/filter &&
		echo 1 >$T/events/vdtest/msg/enable; then
		TRACING="${TRACING}msg,"
	fi
	if echo 'p:vdtest/period snd_pcm_period_elapsed stream=+60(%di):s32' >>$T/kprobe_events 2>/dev/null &&
		echo 1 >$T/events/vdtest/period/enable; then
		TRACING="${TRACING}period,"
	fi
	echo >$T/trace
	echo 1 >$T/tracing_on
	TRACING="${TRACING}marker"
fi
say tracing "${TRACING:-off}"
mark() { [ -z "$TRACING" ] || echo "vdtest $1" >$T/trace_marker; }

# Interval statistics (ms) over a list of timestamps in seconds, one per line.
interval_stats() { # prefix file
	awk 'NR > 1 { print ($1 - prev) * 1000 } { prev = $1 }' "$2" | sort -n >/tmp/iv.txt
	awk -v p="$1" '
		{ v[NR] = $1; s += $1 }
		END {
			if (NR == 0) { printf "%s.intervals=0\n", p; exit }
			i50 = int(NR * 0.50 + 0.5); if (i50 < 1) i50 = 1
			i99 = int(NR * 0.99 + 0.5); if (i99 < 1) i99 = 1; if (i99 > NR) i99 = NR
			n0 = 0; for (i = 1; i <= NR; i++) if (v[i] < 1.0) n0++
			printf "%s.intervals=%d\n%s.mean_ms=%.3f\n%s.min_ms=%.3f\n", p, NR, p, s / NR, p, v[1]
			printf "%s.p50_ms=%.3f\n%s.p99_ms=%.3f\n%s.max_ms=%.3f\n", p, v[i50], p, v[i99], p, v[NR]
			printf "%s.under_1ms=%d\n", p, n0
		}' /tmp/iv.txt
}

# Timestamps of one kind of trace event, one per line.
trace_times() { # play.msg | record.msg | play.elapsed | record.elapsed | jitter
	case $1 in
	play.msg) grep ' msg: .*vq="virtsnd-tx"' /tmp/trace.txt ;;
	record.msg) grep ' msg: .*vq="virtsnd-rx"' /tmp/trace.txt ;;
	play.elapsed) grep ' period: .*stream=0' /tmp/trace.txt ;;
	record.elapsed) grep ' period: .*stream=1' /tmp/trace.txt ;;
	jitter) grep 'vdtest tick' /tmp/trace.txt ;;
	esac | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { sub(":", "", $i); print $i; break } }'
}

report_timing() {
	[ -n "$TRACING" ] || return
	cat $T/trace >/tmp/trace.txt
	cp /tmp/trace.txt /out/trace.txt
	# Hits and misses per probe: a return probe misses when it has no free instance, and a
	# miss is the only way a probe drops a call.
	cp $T/kprobe_profile /tmp/kprobe_profile.txt
	while read -r ev hits missed; do
		say "probe.$ev.hits" "$hits"
		say "probe.$ev.missed" "$missed"
	done </tmp/kprobe_profile.txt
	# Events the ring buffer lost (it must be 0 for the counts to be exact).
	say trace.overrun "$(cat $T/per_cpu/cpu*/stats | awk '/^overrun:/ { n += $2 } END { print n + 0 }')"
	for what in play.msg play.elapsed record.msg record.elapsed jitter; do
		trace_times $what >/tmp/ts.txt
		[ -s /tmp/ts.txt ] || continue
		say "$what.count" "$(wc -l </tmp/ts.txt)"
		say "$what.first_s" "$(head -1 /tmp/ts.txt)"
		say "$what.last_s" "$(tail -1 /tmp/ts.txt)"
		interval_stats "$what" /tmp/ts.txt | while IFS='=' read -r k v; do say "$k" "$v"; done
	done
	grep 'vdtest ' /tmp/trace.txt | grep -v 'vdtest tick' |
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { sub(":", "", $i); print $NF "=" $i } }' |
		while IFS='=' read -r k v; do say "mark.$k" "$v"; done
}

# hw_params that aplay/arecord -v printed.
report_params() { # prefix logfile
	for key in format channels rate period_size buffer_size; do
		v=$(sed -n "s/^ *$key *: *\([^ ]*\).*/\1/p" "$2" | head -1)
		[ -n "$v" ] && say "$1.$key" "$v"
	done
}

size_args() {
	[ -n "$PERIOD" ] && printf -- '--period-size=%s ' "$PERIOD"
	[ -n "$BUFFER" ] && printf -- '--buffer-size=%s ' "$BUFFER"
}

run_play() {
	if [ ! -r "$PLAY" ]; then fail "play_file_missing"; return; fi
	mark play_start
	# shellcheck disable=SC2046
	timeout -s KILL "$CMD_TIMEOUT" aplay -D "$DEV" -v $(size_args) "$PLAY" >/tmp/aplay.log 2>&1
	rc=$?
	mark play_end
	say play.rc $rc
	report_params play /tmp/aplay.log
	vlog aplay /tmp/aplay.log
	[ $rc = 0 ] || fail play_rc_$rc
}

run_record() {
	IFS=: read -r secs rate ch fmt <<EOF
$RECORD
EOF
	[ -n "$fmt" ] || { fail "bad_record_spec"; return; }
	frames=$(awk -v s="$secs" -v r="$rate" 'BEGIN { printf "%d", s * r }')
	mark record_start
	# shellcheck disable=SC2046
	timeout -s KILL "$CMD_TIMEOUT" arecord -D "$DEV" -v $(size_args) -f "$fmt" -r "$rate" -c "$ch" \
		-s "$frames" -t wav /out/record.wav >/tmp/arecord.log 2>&1
	rc=$?
	mark record_end
	say record.rc $rc
	say record.bytes "$(wc -c </out/record.wav 2>/dev/null || echo 0)"
	report_params record /tmp/arecord.log
	vlog arecord /tmp/arecord.log
	[ $rc = 0 ] || fail record_rc_$rc
}

run_amixer() {
	amixer -c 0 contents >/out/amixer.txt 2>&1
	rc=$?
	say amixer.rc $rc
	say amixer.controls "$(grep -c '^numid=' /out/amixer.txt)"
	vlog amixer /out/amixer.txt
}

# A 10 ms sleep loop without forks (read -t on an idle fifo, marker written by a builtin),
# to separate the guest's own scheduling jitter from the device's timing.
run_jitter() {
	mkfifo /tmp/idle
	exec 3<>/tmp/idle
	i=0
	while [ $i -lt "$JITTER" ]; do
		# busybox ash: fractional -t and -u are supported (not POSIX).
		# shellcheck disable=SC3045
		read -r -t 0.01 -u 3 _
		echo "vdtest tick" >$T/trace_marker
		i=$((i + 1))
	done
	exec 3<&-
	say jitter.iterations "$JITTER"
}

# --- scripted scenarios (vdtest.script=FILE in /data) --------------------------------------
# One step a line, words split like sh (quotes group; the script is ours, shipped by
# run-guest.sh --script); '#' starts a comment line. TAG names a step's results
# (TAG.rc, ...) and output file (/out/TAG.txt); [A-Za-z0-9_]+.
#   amixer TAG ARGS...       amixer -c 0 ARGS, output in /out/TAG.txt
#   play TAG FILE            aplay FILE (in /data) to its end; TAG.rc and TAG.{rate,...}
#   bgplay TAG FILE          the same in the background; `wait TAG` collects it, `stop TAG`
#                            interrupts aplay (SIGINT; its status is reported, not judged)
#   events TAG               amixer -c 0 events in the background, onto the console: amixer
#                            flushes its output only when it is a terminal, and is killed
#                            before it could flush a file (the host reads serial.log)
#   stop TAG                 end a background step: events with SIGTERM, bgplay as above
#   hostwait WORD SECONDS    until the host sends the line WORD (run-guest.sh --host-input;
#                            hostwait.WORD=uptime), or fail
#   sleep SECONDS            busybox sleep (fractions allowed)
#   say KEY VALUE            a result line: the host watches the console for these
#   mark NAME                a trace marker
script_fail() { # step number, reason
	fail "script_$1_$2"
}
check_tag() {
	case $1 in "" | *[!A-Za-z0-9_]*) return 1 ;; esac
}
# aplay of one file; its exit status is aplay's, its results under TAG.
play_one() { # tag file
	mark "$1_start"
	# shellcheck disable=SC2046
	# busybox timeout execs the command in its own process: $! is aplay's pid.
	timeout -s KILL "$CMD_TIMEOUT" aplay -D "$DEV" -v $(size_args) "$2" </dev/null >"/tmp/$1.log" 2>&1 &
	echo $! >"/tmp/$1.aplay.pid"
	wait $!
	rc=$?
	mark "$1_end"
	say "$1.rc" $rc
	report_params "$1" "/tmp/$1.log"
	vlog "$1" "/tmp/$1.log"
	cp "/tmp/$1.log" "/out/$1.log"
	return $rc
}
run_script() {
	[ -r "$SCRIPT" ] || { fail script_missing; return; }
	step=0
	while IFS= read -r line; do
		step=$((step + 1))
		case $line in "" | "#"*) continue ;; esac
		set -f
		eval "set -- $line" || { set +f; script_fail $step syntax; continue; }
		set +f
		cmd=$1
		shift
		case $cmd in
		amixer | play | bgplay | events | stop | wait)
			check_tag "$1" || { script_fail $step bad_tag; continue; }
			tag=$1
			shift
			;;
		esac
		case $cmd in
		amixer)
			timeout -s KILL "$CMD_TIMEOUT" amixer -c 0 "$@" </dev/null >"/out/$tag.txt" 2>&1
			rc=$?
			say "$tag.rc" $rc
			vlog "$tag" "/out/$tag.txt"
			[ $rc = 0 ] || script_fail $step "${tag}_rc_$rc"
			;;
		play)
			play_one "$tag" "/data/$1" || script_fail $step "${tag}_rc_$?"
			;;
		bgplay)
			play_one "$tag" "/data/$1" &
			eval "bg_$tag=$!"
			;;
		events)
			say "$tag.started" "$(uptime_s)"
			amixer -c 0 events </dev/null >/dev/console 2>&1 &
			eval "bg_$tag=$!"
			;;
		wait | stop)
			eval "pid=\${bg_$tag:-}"
			[ -n "$pid" ] || { script_fail $step "no_background_$tag"; continue; }
			if [ "$cmd" = stop ] && [ -r "/tmp/$tag.aplay.pid" ]; then
				kill -INT "$(cat "/tmp/$tag.aplay.pid")" 2>/dev/null
			elif [ "$cmd" = stop ]; then
				kill "$pid" 2>/dev/null
			fi
			wait "$pid"
			rc=$?
			eval "bg_$tag="
			if [ "$cmd" = wait ] && [ $rc != 0 ]; then script_fail $step "${tag}_rc_$rc"; fi
			;;
		hostwait)
			[ $HOSTIN = 1 ] || { script_fail $step no_host_input; continue; }
			t0=$(uptime_s)
			end=$(awk -v t="$t0" -v s="$2" 'BEGIN { printf "%d", t + s + 1 }')
			got=""
			while [ "$got" != "$1" ]; do
				left=$((end - $(uptime_s | cut -d. -f1)))
				# busybox ash: read -t and -u (not POSIX).
				# shellcheck disable=SC3045
				if [ $left -le 0 ] || ! read -r -t $left -u 4 got; then
					script_fail $step "hostwait_$1_timeout"
					break
				fi
				got=$(printf '%s' "$got" | tr -d '\r')
			done
			[ "$got" = "$1" ] && say "hostwait.$1" "$(uptime_s)"
			;;
		sleep) sleep "$1" ;;
		say) say "$1" "$2" ;;
		mark) mark "$1" ;;
		*) script_fail $step "unknown_$cmd" ;;
		esac
	done <"$SCRIPT"
	say script.steps $step
}

# System sleep in the middle of the scenario: MODE (freeze: s2idle; mem: S3, "deep") after
# AFTER seconds, woken by the RTC alarm SECS seconds later. The virtio devices go through
# their freeze/restore (virtio_snd: the device is reset without RELEASE; the PCM's next
# prepare sends SET_PARAMS and PREPARE again).
run_suspend() {
	IFS=: read -r mode after secs <<EOF
$SUSPEND
EOF
	[ -n "$secs" ] || { fail "bad_suspend_spec"; return; }
	say suspend.states "$(cat /sys/power/state)"
	say suspend.mem_sleep_before "$(cat /sys/power/mem_sleep 2>/dev/null | tr ' ' ,)"
	sleep "$after"
	[ "$mode" = mem ] && echo deep >/sys/power/mem_sleep 2>/dev/null
	echo 0 >/sys/class/rtc/rtc0/wakealarm
	echo "+$secs" >/sys/class/rtc/rtc0/wakealarm || fail suspend_no_rtc_alarm
	mark suspend_start
	say suspend.start_rtc "$(cat /sys/class/rtc/rtc0/since_epoch)"
	echo "$mode" >/sys/power/state
	rc=$?
	say suspend.end_rtc "$(cat /sys/class/rtc/rtc0/since_epoch)"
	mark suspend_end
	say suspend.rc $rc
	dmesg | grep -iE 'PM: |suspend|freez|restor|virtio_snd|ACPI: .*(sleep|wak)' >/tmp/pm.txt
	vlog pm /tmp/pm.txt
	[ $rc = 0 ] || fail suspend_rc_$rc
}

# --- scenario ------------------------------------------------------------------------------
if [ -z "$FAILED" ]; then
	[ $AMIXER = 1 ] && run_amixer
	[ -n "$SCRIPT" ] && run_script
	if [ $BOTH = 1 ] && [ -n "$PLAY" ] && [ -n "$RECORD" ]; then
		run_record &
		rec_pid=$!
		run_play
		wait $rec_pid
		# run_record ran in a subshell: pick up its failures from the results file.
		grep -q '^record.rc=0$' "$RESULTS" || FAILED="$FAILED record"
	else
		if [ -n "$SUSPEND" ]; then
			run_suspend &
			sus_pid=$!
		fi
		[ -n "$PLAY" ] && run_play
		[ -n "$RECORD" ] && run_record
		if [ -n "$SUSPEND" ]; then
			wait $sus_pid
			grep -q '^suspend.rc=0$' "$RESULTS" || FAILED="$FAILED suspend"
		fi
	fi
	[ "$JITTER" -gt 0 ] && [ -n "$TRACING" ] && run_jitter
	report_timing
fi
say end_uptime_s "$(uptime_s)"

# Kernel warnings (e.g. virtio_snd timeouts) belong to the result.
dmesg | grep -i 'virtio\|snd\|alsa\|lost interrupts\|timeout' >/out/dmesg-snd.txt
say dmesg.snd_lines "$(wc -l </out/dmesg-snd.txt)"
dmesg >/out/dmesg.txt

if [ -z "$FAILED" ]; then say result pass; else say result fail; fi
if [ -b /dev/vda ]; then
	if tar -cf /dev/vda -C /out .; then say scratch written; else say scratch write_failed; fi
	sync
fi
echo "VDTEST: done"
poweroff -f
