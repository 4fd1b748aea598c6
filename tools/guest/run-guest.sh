#!/usr/bin/env bash
# tools/guest/run-guest.sh - boot the test guest (build-image.sh) once under QEMU with either
# QEMU's built-in virtio-sound-pci or a vhost-user-snd-pci device on a backend's socket, run
# one scenario in it, and collect the results: the guest's "VDTEST: key=value" lines are
# printed and saved, its output files are read back from the scratch disk. Exits 0 only when
# the guest reported result=pass and powered off by itself.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	cat <<'EOF'
usage: run-guest.sh DEVICE [SCENARIO...] [OPTIONS]

DEVICE (exactly one):
  --builtin wav:OUT.wav            QEMU's virtio-sound-pci, playback into a WAV file
                                   (paced in real time; no capture; drops the last few ms)
  --builtin none                   virtio-sound-pci on the null audiodev (paced; silence)
  --builtin alsa-file:OUT.raw[:IN.raw]
                                   virtio-sound-pci on alsa-lib "file" PCMs: playback is
                                   written raw to OUT, capture reads raw IN (default
                                   /dev/zero); bit-exact both ways, NOT paced
  --vhost-user SOCKET              vhost-user-snd-pci on a backend listening at SOCKET
     --controls                    with controls=on (config space with the controls field)
     --reconnect-ms N              chardev reconnect-ms=N

SCENARIO (combinable):
  --play FILE.wav                  ship FILE in the initramfs, guest runs aplay -D hw:0,0
  --record SECONDS:RATE:CH:FMT     guest runs arecord (FMT as ALSA: S16_LE, S32_LE, ...);
                                   the recording comes back as OUT/guest/record.wav
  --both                           play and record at the same time
  --amixer                         print the card's controls (amixer contents)
  --script FILE                    run FILE's steps in the guest (docs/guest-testing.md,
                                   "Scripted scenarios"; init.sh documents the steps)
  --data FILE                      ship FILE into the guest's /data as well (for --script;
                                   repeatable)
  --host-input                     a second serial port for the script's hostwait steps:
                                   write lines to OUT/hostin.in (a FIFO) after the guest
                                   said "hostin=ready"
  --sleep-jitter[=N]               N (500) 10 ms sleeps, timestamped by the guest
  --period FRAMES, --buffer FRAMES period/buffer size for aplay/arecord
  --no-trace                       no ftrace period timestamps in the guest
  --suspend MODE:AFTER:SECS        system sleep during the scenario: MODE freeze (s2idle)
                                   or mem (S3), AFTER seconds in, woken by the RTC alarm
                                   SECS later (mem: QEMU resumes from S3 through a reset,
                                   so -no-reboot is left out)

OPTIONS:
  --out DIR           output directory (default: a new directory under ${TMPDIR:-/tmp})
  --scratch MB        scratch disk size (default: enough for the recording, at least 64)
  --accel A           tcg, kvm or auto (default auto: kvm only with real VT-x/AMD-V)
  --cpu MODEL         default: max with tcg, host with kvm
  --mem SIZE          guest RAM (default 512M), --smp N (default 1)
  --timeout SECS      kill QEMU after SECS (default 180)
  --image DIR         built image (default: CACHE/image; built when missing)
  --bzimage           boot the bzImage instead of the extracted vmlinux
  --append ARGS       extra kernel command line
  --console           print the whole serial console, not only the VDTEST lines
  --dry-run           print the QEMU command line and exit
EOF
}

DEVICE="" BUILTIN="" VHOST_SOCK="" CONTROLS=0 RECONNECT=""
PLAY="" RECORD="" SUSPEND="" BOTH=0 AMIXER=0 SCRIPT="" DATA=() HOSTIN=0 JITTER="" PERIOD="" BUFFER="" TRACE=1
OUT="" SCRATCH_MB="" ACCEL=auto CPU="" MEM=512M SMP=1 TIMEOUT=180
IMAGE=$VD_GUEST_CACHE/image BZIMAGE=0 APPEND="" CONSOLE=0 DRYRUN=0

need() { [ $# -ge 2 ] || { usage >&2; vd_die "$1 needs a value"; }; }
while [ $# -gt 0 ]; do
	case $1 in
	--builtin) need "$@"; DEVICE=builtin; BUILTIN=$2; shift ;;
	--vhost-user) need "$@"; DEVICE=vhost; VHOST_SOCK=$2; shift ;;
	--controls) CONTROLS=1 ;;
	--reconnect-ms) need "$@"; RECONNECT=$2; shift ;;
	--play) need "$@"; PLAY=$2; shift ;;
	--record) need "$@"; RECORD=$2; shift ;;
	--both) BOTH=1 ;;
	--amixer) AMIXER=1 ;;
	--script) need "$@"; SCRIPT=$2; shift ;;
	--data) need "$@"; DATA+=("$2"); shift ;;
	--host-input) HOSTIN=1 ;;
	--suspend) need "$@"; SUSPEND=$2; shift ;;
	--sleep-jitter) JITTER=500 ;;
	--sleep-jitter=*) JITTER=${1#*=} ;;
	--period) need "$@"; PERIOD=$2; shift ;;
	--buffer) need "$@"; BUFFER=$2; shift ;;
	--no-trace) TRACE=0 ;;
	--out) need "$@"; OUT=$2; shift ;;
	--scratch) need "$@"; SCRATCH_MB=$2; shift ;;
	--accel) need "$@"; ACCEL=$2; shift ;;
	--cpu) need "$@"; CPU=$2; shift ;;
	--mem) need "$@"; MEM=$2; shift ;;
	--smp) need "$@"; SMP=$2; shift ;;
	--timeout) need "$@"; TIMEOUT=$2; shift ;;
	--image) need "$@"; IMAGE=$2; shift ;;
	--bzimage) BZIMAGE=1 ;;
	--append) need "$@"; APPEND=$2; shift ;;
	--console) CONSOLE=1 ;;
	--dry-run) DRYRUN=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; vd_die "unknown argument '$1'" ;;
	esac
	shift
done

[ -n "$DEVICE" ] || { usage >&2; vd_die "give --builtin or --vhost-user"; }
[ $BOTH = 0 ] || { [ -n "$PLAY" ] && [ -n "$RECORD" ]; } || vd_die "--both needs --play and --record"
if [ -n "$RECORD" ] && ! [[ $RECORD =~ ^[0-9.]+:[0-9]+:[0-9]+:[A-Z0-9_]+$ ]]; then
	vd_die "--record wants SECONDS:RATE:CHANNELS:FORMAT (e.g. 1:48000:2:S16_LE), got '$RECORD'"
fi
[ -z "$PLAY" ] || [ -r "$PLAY" ] || vd_die "--play file '$PLAY' is not readable"
[ -z "$SCRIPT" ] || [ -r "$SCRIPT" ] || vd_die "--script file '$SCRIPT' is not readable"
for f in "${DATA[@]}"; do [ -r "$f" ] || vd_die "--data file '$f' is not readable"; done

command -v qemu-system-x86_64 >/dev/null || vd_die "qemu-system-x86_64 missing; run tools/guest/setup-host.sh"
if [ ! -f "$IMAGE/initramfs.cpio.gz" ]; then
	[ "$IMAGE" = "$VD_GUEST_CACHE/image" ] || vd_die "no image in $IMAGE"
	"$VD_GUEST_DIR/build-image.sh" "$IMAGE"
fi

if [ -z "$OUT" ]; then
	OUT=$(mktemp -d "${TMPDIR:-/tmp}/vdguest.XXXXXX")
else
	mkdir -p "$OUT"
	rm -rf "$OUT/guest" "$OUT/serial.log" "$OUT/results.txt" "$OUT/scratch.img" "$OUT/initrd" \
		"$OUT/hostin.in" "$OUT/hostin.out"
fi
OUT=$(cd "$OUT" && pwd)

# --- accelerator -----------------------------------------------------------------------
# /dev/kvm alone is not enough: some hosts provide it through software nested
# virtualisation (kvm_pvm) that cannot run an unmodified kernel. Require vmx/svm.
if [ "$ACCEL" = auto ]; then
	if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case $ACCEL in
tcg) CPU=${CPU:-max} ;;
kvm) CPU=${CPU:-host} ;;
*) vd_die "--accel must be tcg, kvm or auto" ;;
esac

# --- audio formats: QEMU's audiodev must match the stream, or QEMU resamples ----------
alsa_to_qemu() {
	case $1 in
	S16_LE) echo s16 ;; S32_LE) echo s32 ;; U8) echo u8 ;; S8) echo s8 ;;
	U16_LE) echo u16 ;; U32_LE) echo u32 ;; FLOAT_LE) echo f32 ;;
	*) echo "" ;;
	esac
}
OUT_FMT=s16 OUT_CH=2 OUT_RATE=48000 IN_FMT=s16 IN_CH=2 IN_RATE=48000
# A script's WAVs are played through the same audiodev: the first --data WAV sets it.
FMT_WAV=$PLAY
[ -n "$FMT_WAV" ] || [ ${#DATA[@]} = 0 ] || case ${DATA[0]} in *.wav) FMT_WAV=${DATA[0]} ;; esac
if [ -n "$FMT_WAV" ]; then
	info=$(python3 "$VD_GUEST_DIR/wavtool.py" info "$FMT_WAV") || vd_die "cannot read $FMT_WAV as WAV"
	for kv in $info; do
		case $kv in
		format=*) OUT_FMT=${kv#*=} ;; channels=*) OUT_CH=${kv#*=} ;; rate=*) OUT_RATE=${kv#*=} ;;
		esac
	done
fi
if [ -n "$RECORD" ]; then
	IFS=: read -r rsecs IN_RATE IN_CH rfmt <<<"$RECORD"
	IN_FMT=$(alsa_to_qemu "$rfmt")
	[ -n "$IN_FMT" ] || vd_die "QEMU's audio layer has no format for $rfmt"
fi
audio_opts() { # out|in
	if [ "$1" = out ]; then echo "out.frequency=$OUT_RATE,out.channels=$OUT_CH,out.format=$OUT_FMT"
	else echo "in.frequency=$IN_RATE,in.channels=$IN_CH,in.format=$IN_FMT"; fi
}

# --- the sound device ------------------------------------------------------------------
DEV_ARGS=()
QEMU_ENV=()
case $DEVICE in
builtin)
	case $BUILTIN in
	wav:*)
		wav=$(realpath -m "${BUILTIN#wav:}")
		DEV_ARGS+=(-audiodev "wav,id=snd0,path=$wav,$(audio_opts out)")
		;;
	none)
		DEV_ARGS+=(-audiodev "none,id=snd0,$(audio_opts out),$(audio_opts in)")
		;;
	alsa-file:*)
		IFS=: read -r _ play_raw cap_raw <<<"$BUILTIN"
		[ -n "$play_raw" ] || vd_die "alsa-file needs an output file: alsa-file:OUT.raw[:IN.raw]"
		play_raw=$(realpath -m "$play_raw")
		cap_raw=$(realpath -m "${cap_raw:-/dev/zero}")
		[ -r "$cap_raw" ] || vd_die "capture source $cap_raw is not readable"
		rm -f "$play_raw"
		# alsa-lib "file" PCMs over the "null" PCM, defined in a private HOME: no sound
		# hardware or sound modules on the host are involved.
		mkdir -p "$OUT/alsa-home"
		cat >"$OUT/alsa-home/.asoundrc" <<EOF
pcm.vdtest_play {
	type file
	slave.pcm "null"
	file "$play_raw"
	format "raw"
}
pcm.vdtest_capture {
	type file
	slave.pcm "null"
	file "/dev/null"
	infile "$cap_raw"
	format "raw"
}
EOF
		QEMU_ENV+=("HOME=$OUT/alsa-home")
		DEV_ARGS+=(-audiodev "alsa,id=snd0,out.dev=vdtest_play,in.dev=vdtest_capture,$(audio_opts out),$(audio_opts in),out.try-poll=off,in.try-poll=off")
		;;
	*) vd_die "--builtin wants wav:FILE, none or alsa-file:OUT[:IN], got '$BUILTIN'" ;;
	esac
	# shellcheck disable=SC2054
	DEV_ARGS+=(-device virtio-sound-pci,audiodev=snd0)
	;;
vhost)
	chardev="socket,id=vsnd,path=$VHOST_SOCK"
	[ -z "$RECONNECT" ] || chardev="$chardev,reconnect-ms=$RECONNECT"
	dev="vhost-user-snd-pci,chardev=vsnd"
	[ $CONTROLS = 0 ] || dev="$dev,controls=on"
	DEV_ARGS+=(-chardev "$chardev" -device "$dev")
	;;
esac

# --- kernel, initramfs, kernel command line -------------------------------------------
KERNEL=$IMAGE/vmlinux
if [ $BZIMAGE = 1 ] || [ ! -f "$KERNEL" ]; then KERNEL=$IMAGE/bzImage; fi
INITRD=$IMAGE/initramfs.cpio.gz
# no_timer_check: the kernel's early check that the timer interrupt arrives gives up when the
# TCG vCPU is starved by a loaded host, and panics ("IO-APIC + timer doesn't work", seen at
# load 24); it is meant for real hardware.
CMDLINE="console=ttyS0 panic=-1 quiet no_timer_check"
# Files for the guest's /data (--play, --script, --data) travel as a second cpio archive
# appended to the initramfs (the kernel unpacks concatenated archives; each must start
# 4-byte aligned).
SHIPPED=()
ship() { # file, name to use if its own is unsafe: appends its name in /data to SHIPPED
	local name s
	name=$(basename "$1")
	[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || name=$2
	for s in "${SHIPPED[@]}"; do [ "$s" != "$name" ] || vd_die "two files for the guest named '$name'"; done
	mkdir -p "$OUT/initrd.d/data"
	cp "$1" "$OUT/initrd.d/data/$name"
	SHIPPED+=("$name")
}
if [ -n "$PLAY" ]; then
	ship "$PLAY" play.wav
	CMDLINE="$CMDLINE vdtest.play=${SHIPPED[-1]}"
fi
if [ -n "$SCRIPT" ]; then
	ship "$SCRIPT" script
	CMDLINE="$CMDLINE vdtest.script=${SHIPPED[-1]}"
fi
for f in "${DATA[@]}"; do ship "$f" "data${#SHIPPED[@]}"; done
if [ ${#SHIPPED[@]} -gt 0 ]; then
	cp "$INITRD" "$OUT/initrd"
	truncate -s %512 "$OUT/initrd"
	(cd "$OUT/initrd.d" && printf '%s\n' data "${SHIPPED[@]/#/data/}" | "$IMAGE/busybox" cpio -o -H newc 2>/dev/null) >>"$OUT/initrd"
	rm -rf "$OUT/initrd.d"
	INITRD=$OUT/initrd
fi
[ -z "$RECORD" ] || CMDLINE="$CMDLINE vdtest.record=$RECORD"
[ $HOSTIN = 0 ] || CMDLINE="$CMDLINE vdtest.hostin"
[ $BOTH = 0 ] || CMDLINE="$CMDLINE vdtest.both"
[ $AMIXER = 0 ] || CMDLINE="$CMDLINE vdtest.amixer"
[ -z "$SUSPEND" ] || CMDLINE="$CMDLINE vdtest.suspend=$SUSPEND"
[ -z "$JITTER" ] || CMDLINE="$CMDLINE vdtest.sleep_jitter=$JITTER"
[ -z "$PERIOD" ] || CMDLINE="$CMDLINE vdtest.period=$PERIOD"
[ -z "$BUFFER" ] || CMDLINE="$CMDLINE vdtest.buffer=$BUFFER"
[ $TRACE = 1 ] || CMDLINE="$CMDLINE vdtest.trace=0"
# The guest kills a stuck aplay/arecord itself, well before the host timeout.
CMDLINE="$CMDLINE vdtest.timeout=$((TIMEOUT * 2 / 3 > 10 ? TIMEOUT * 2 / 3 - 10 : 5))"
[ -z "$APPEND" ] || CMDLINE="$CMDLINE $APPEND"

# --- scratch disk: the guest writes a tar of its /out there -----------------------------
if [ -z "$SCRATCH_MB" ]; then
	SCRATCH_MB=64
	if [ -n "$RECORD" ]; then
		bytes=$(awk -v s="$rsecs" -v r="$IN_RATE" -v c="$IN_CH" 'BEGIN { printf "%d", s * r * c * 4 }')
		need_mb=$((bytes / 1048576 + 32))
		[ $need_mb -le $SCRATCH_MB ] || SCRATCH_MB=$need_mb
	fi
fi
rm -f "$OUT/scratch.img"
truncate -s "${SCRATCH_MB}M" "$OUT/scratch.img"

# Host to guest: QEMU's pipe chardev on two FIFOs (it opens both read-write, so neither side
# blocks in open while QEMU runs), the guest's ttyS1. The guest never writes to it.
HOST_IN_ARGS=()
if [ $HOSTIN = 1 ]; then
	mkfifo "$OUT/hostin.in" "$OUT/hostin.out"
	HOST_IN_ARGS=(-chardev "pipe,id=hostin,path=$OUT/hostin" -serial chardev:hostin)
fi

# Guest RAM in a shared memfd so that a vhost-user backend can map it.
# shellcheck disable=SC2054
NO_REBOOT=(-no-reboot)
case $SUSPEND in mem:*) NO_REBOOT=() ;; esac
QEMU=(qemu-system-x86_64 -nodefaults -no-user-config -display none "${NO_REBOOT[@]}"
	-machine q35,memory-backend=mem -accel "$ACCEL" -cpu "$CPU" -smp "$SMP" -m "$MEM"
	-object "memory-backend-memfd,id=mem,size=$MEM,share=on"
	-chardev "file,id=ser0,path=$OUT/serial.log" -serial chardev:ser0 "${HOST_IN_ARGS[@]}"
	-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE"
	-drive "file=$OUT/scratch.img,if=none,format=raw,id=scratch" -device virtio-blk-pci,drive=scratch
	"${DEV_ARGS[@]}")

printf '%q ' env "${QEMU_ENV[@]}" "${QEMU[@]}" >"$OUT/qemu.cmdline"; echo >>"$OUT/qemu.cmdline"
if [ $DRYRUN = 1 ]; then cat "$OUT/qemu.cmdline"; exit 0; fi

t0=$(date +%s.%N)
set +e
env "${QEMU_ENV[@]}" timeout -k 5 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$OUT/qemu.log" 2>&1
qrc=$?
set -e
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')

# --- results ---------------------------------------------------------------------------
touch "$OUT/serial.log"
tr -d '\r' <"$OUT/serial.log" >"$OUT/serial.txt" && mv "$OUT/serial.txt" "$OUT/serial.log"
{
	sed -n 's/^VDTEST: //p' "$OUT/serial.log"
	echo "host.qemu_rc=$qrc"
	echo "host.wall_s=$wall"
	echo "host.accel=$ACCEL"
	echo "host.kernel=$(basename "$KERNEL")"
} >"$OUT/results.txt"

mkdir -p "$OUT/guest"
if grep -qx 'scratch=written' "$OUT/results.txt"; then
	tar -xf "$OUT/scratch.img" -C "$OUT/guest" || echo "host.scratch=unreadable" >>"$OUT/results.txt"
fi
# Both are rebuilt per run; keep the output directory small.
rm -f "$OUT/scratch.img" "$OUT/initrd" "$OUT/hostin.in" "$OUT/hostin.out"

if [ $CONSOLE = 1 ]; then cat "$OUT/serial.log"; else grep '^VDTEST: ' "$OUT/serial.log" || true; fi
sed -n 's/^host\./VDHOST: /p' "$OUT/results.txt"
echo "VDHOST: out=$OUT"

status=0
if [ $qrc = 124 ] || [ $qrc = 137 ]; then
	vd_log "QEMU timed out after ${TIMEOUT}s (see $OUT/serial.log, $OUT/qemu.log)"
	status=124
elif [ $qrc != 0 ]; then
	vd_log "QEMU exited with $qrc: $(tail -3 "$OUT/qemu.log" | tr '\n' ' ')"
	status=1
elif ! grep -qx 'result=pass' "$OUT/results.txt"; then
	vd_log "the guest did not report result=pass (see $OUT/serial.log)"
	status=1
elif [ -n "$RECORD" ] && [ ! -s "$OUT/guest/record.wav" ]; then
	vd_log "the recording did not come back from the scratch disk"
	status=1
fi
exit $status
