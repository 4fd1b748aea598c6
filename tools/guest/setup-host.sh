#!/usr/bin/env bash
# tools/guest/setup-host.sh - install what the real-guest harness needs on a Debian 12 host:
# QEMU 10.0 (qemu-system-x86) from bookworm-backports through the private apt configuration
# of lib.sh, plus the host tools the image build uses. Idempotent: exits at once when all
# is there. Needs root (or sudo) only when something must be installed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

QEMU_MIN_MAJOR=10
HOST_TOOLS=(xz-utils zstd binutils gzip python3 util-linux)

qemu_ok() {
	local v
	v=$(qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p')
	[ -n "$v" ] && [ "$v" -ge "$QEMU_MIN_MAJOR" ]
}

missing=()
for p in "${HOST_TOOLS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ] && qemu_ok; then
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
vd_lock
vd_apt_update
mapfile -t opts < <(vd_apt_opts)
if [ ${#missing[@]} -gt 0 ]; then
	vd_log "installing host tools: ${missing[*]}"
	vd_root apt-get "${opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! qemu_ok; then
	# -t only affects this one call: QEMU and the libraries it needs from backports.
	vd_log "installing qemu-system-x86 from bookworm-backports"
	vd_root apt-get "${opts[@]}" -t bookworm-backports install -y -qq --no-install-recommends \
		qemu-system-x86 >/dev/null
fi
# The installed debs are not needed again (the guest's packages live in CACHE/debs).
rm -f "$VD_APT_DIR"/cache/archives/*.deb
qemu_ok || vd_die "qemu-system-x86_64 >= $QEMU_MIN_MAJOR is still missing after the install"
vd_log "$(qemu-system-x86_64 --version | head -1)"
