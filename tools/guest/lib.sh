# tools/guest/lib.sh - shared settings of the guest harness: cache layout, the private apt
# configuration for bookworm(-backports), locking and logging. Sourced, never run.
# shellcheck shell=bash

VD_GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Everything downloaded or built lives here (gitignored as /tools/guest/cache/).
VD_GUEST_CACHE=${VD_GUEST_CACHE:-$VD_GUEST_DIR/cache}
VD_DEBIAN_MIRROR=${VD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
VD_DEBIAN_SECURITY=${VD_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
VD_DEBIAN_KEYRING=${VD_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

vd_log() { echo "guest: $*" >&2; }
vd_die() { echo "guest: error: $*" >&2; exit 1; }

# Run as root, or through sudo when we are not root.
vd_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# A private apt configuration: our own sources list, package lists and archive cache, so
# that bookworm-backports is reachable without touching /etc/apt or /var/lib/apt/lists.
# Dir::Cache also moves pkgcache.bin, which apt would otherwise rebuild from our lists and
# write over the system's copy; naming the cache files explicitly keeps them even where
# apt.conf.d disables them (container images), so repeated look-ups take milliseconds.
# Downloads into the private cache need no privilege drop to _apt (APT::Sandbox::User).
VD_APT_DIR=$VD_GUEST_CACHE/apt

vd_apt_prepare() {
	mkdir -p "$VD_APT_DIR/lists/partial" "$VD_APT_DIR/cache/archives/partial"
	local src="$VD_APT_DIR/sources.list" tmp
	tmp=$(mktemp "$VD_APT_DIR/sources.XXXXXX")
	cat >"$tmp" <<EOF
deb [signed-by=$VD_DEBIAN_KEYRING] $VD_DEBIAN_MIRROR bookworm main
deb [signed-by=$VD_DEBIAN_KEYRING] $VD_DEBIAN_MIRROR bookworm-updates main
deb [signed-by=$VD_DEBIAN_KEYRING] $VD_DEBIAN_SECURITY bookworm-security main
deb [signed-by=$VD_DEBIAN_KEYRING] $VD_DEBIAN_MIRROR bookworm-backports main
EOF
	if cmp -s "$tmp" "$src"; then rm -f "$tmp"; else mv "$tmp" "$src"; fi
}

# Options that point apt at the private configuration.
vd_apt_opts() {
	printf '%s\n' \
		-o "Dir::Etc::sourcelist=$VD_APT_DIR/sources.list" \
		-o "Dir::Etc::sourceparts=-" \
		-o "Dir::State::Lists=$VD_APT_DIR/lists" \
		-o "Dir::Cache=$VD_APT_DIR/cache" \
		-o "Dir::Cache::pkgcache=$VD_APT_DIR/cache/pkgcache.bin" \
		-o "Dir::Cache::srcpkgcache=$VD_APT_DIR/cache/srcpkgcache.bin" \
		-o "APT::Get::List-Cleanup=0" \
		-o "APT::Sandbox::User=root" \
		-o "DPkg::Lock::Timeout=600"
}

# apt-get/apt-cache with the private configuration: vd_apt apt-get update ...
vd_apt() {
	local tool=$1; shift
	local opts
	mapfile -t opts < <(vd_apt_opts)
	"$tool" "${opts[@]}" "$@"
}

# Refresh the private package lists when they are missing or older than a day (a
# backports kernel is replaced in the archive when a new one is uploaded, so stale lists
# point at files that no longer exist). VD_APT_REFRESH=1 forces it.
vd_apt_update() {
	vd_apt_prepare
	local stamp="$VD_APT_DIR/updated.stamp"
	if [ "${VD_APT_REFRESH:-0}" != 1 ] && [ -f "$stamp" ] &&
		[ -n "$(find "$stamp" -mmin -1440 2>/dev/null)" ] &&
		[ "$stamp" -nt "$VD_APT_DIR/sources.list" ]; then
		return 0
	fi
	vd_log "apt-get update (private lists in $VD_APT_DIR)"
	vd_apt apt-get -qq update || vd_die "apt-get update with the private sources failed"
	touch "$stamp"
}

# Serialise cache writers (two test runs building the image at once).
vd_lock() {
	mkdir -p "$VD_GUEST_CACHE"
	exec {VD_LOCK_FD}>"$VD_GUEST_CACHE/.lock"
	flock "$VD_LOCK_FD"
}
