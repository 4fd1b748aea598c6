#!/usr/bin/env bash
# tools/guest/build-image.sh [OUTDIR] - build the test guest: an unmodified Debian kernel
# (6.12 from bookworm-backports, stock virtio_snd) booted as vmlinux, and an initramfs with
# static busybox, stock aplay/arecord/amixer, the libraries they need and our /init.
# Packages are only downloaded and unpacked (apt-get download, dpkg -x), never installed.
# Everything is cached under VD_GUEST_CACHE; a stamp over this script, the /init and the
# resolved package versions decides whether OUTDIR (default CACHE/image) is rebuilt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${1:-$VD_GUEST_CACHE/image}
# The kernel: VD_GUEST_KERNEL pins a package name, otherwise the newest 6.12 in backports.
KERNEL_RE='^linux-image-6\.12\.[0-9]+\+deb12-amd64$'
USERLAND=(busybox-static alsa-utils libasound2 libasound2-data libc6)
# Modules the guest loads; their dependencies are added from .modinfo.
MODULES=(virtio_snd virtio_blk)
# Binaries copied into the guest (from the unpacked packages), with their NEEDED closure.
BINARIES=(usr/bin/aplay usr/bin/amixer)
LIBDIRS=(lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib64 usr/lib64 lib usr/lib)

candidates() { # packages... -> "package version" for each one that has a candidate
	vd_apt apt-cache policy "$@" 2>/dev/null | awk '
		/^[^ ].*:$/ { pkg = substr($0, 1, length($0) - 1) }
		/^  Candidate: / && $2 != "(none)" { print pkg, $2 }'
}

pick_kernel() {
	if [ -n "${VD_GUEST_KERNEL:-}" ]; then echo "$VD_GUEST_KERNEL"; return; fi
	local names best=""
	mapfile -t names < <(vd_apt apt-cache pkgnames linux-image-6.12 | grep -E "$KERNEL_RE")
	if [ ${#names[@]} -gt 0 ]; then
		best=$(candidates "${names[@]}" | cut -d' ' -f1 | sort -V | tail -1)
	fi
	[ -n "$best" ] || vd_die "no linux-image-6.12.*+deb12-amd64 package in the private apt lists"
	echo "$best"
}

# Download PKG=VERSION into the deb cache unless a deb with that version is already there.
fetch_deb() {
	local pkg=$1 ver=$2 f
	for f in "$DEBS/${pkg}_"*.deb; do
		[ -f "$f" ] || continue
		if [ "$(dpkg-deb -f "$f" Package)" = "$pkg" ] && [ "$(dpkg-deb -f "$f" Version)" = "$ver" ]; then
			echo "$f"; return
		fi
	done
	vd_log "downloading $pkg $ver"
	(cd "$DEBS" && vd_apt apt-get download -qq "$pkg=$ver" >/dev/null) ||
		vd_die "apt-get download $pkg=$ver failed"
	for f in "$DEBS/${pkg}_"*.deb; do
		if [ "$(dpkg-deb -f "$f" Version)" = "$ver" ]; then echo "$f"; return; fi
	done
	vd_die "downloaded $pkg but found no deb of version $ver"
}

# Unpack a deb once into CACHE/unpacked/<name> and print that directory.
unpack_deb() {
	local deb=$1 dir
	dir="$VD_GUEST_CACHE/unpacked/$(basename "$deb" .deb)"
	if [ ! -f "$dir/.unpacked" ]; then
		rm -rf "$dir"; mkdir -p "$dir"
		dpkg -x "$deb" "$dir"
		touch "$dir/.unpacked"
	fi
	echo "$dir"
}

# Resolve PATH (absolute, as the guest would see it) inside the merged package roots,
# following symlinks within those roots so that no host file is ever picked up.
resolve_in_roots() {
	local path=$1 depth=0 root target
	while [ $depth -lt 20 ]; do
		local found=""
		for root in "${ROOTS[@]}"; do
			if [ -L "$root$path" ] || [ -e "$root$path" ]; then found=$root; break; fi
		done
		[ -n "$found" ] || return 1
		if [ -L "$found$path" ]; then
			target=$(readlink "$found$path")
			case $target in
			/*) path=$target ;;
			*) path=$(dirname "$path")/$target ;;
			esac
			path=$(realpath -m -s "$path")
			depth=$((depth + 1))
			continue
		fi
		echo "$found$path"
		return 0
	done
	return 1
}

find_lib() { # soname -> host path inside a package root
	local soname=$1 d
	for d in "${LIBDIRS[@]}"; do
		if resolve_in_roots "/$d/$soname"; then return 0; fi
	done
	return 1
}

needed_of() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p'; }
interp_of() { readelf -l "$1" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p'; }

# Copy the binaries and the closure of their NEEDED libraries into the staging tree.
copy_binaries() {
	local queue=() seen=" " bin lib src interp
	for bin in "${BINARIES[@]}"; do
		src=$(resolve_in_roots "/$bin") || vd_die "/$bin is in none of the unpacked packages"
		install -D -m 0755 "$src" "$STAGE/$bin"
		queue+=("$src")
		interp=$(interp_of "$src")
		if [ -n "$interp" ] && [ ! -e "$STAGE$interp" ]; then
			src=$(resolve_in_roots "$interp") || vd_die "interpreter $interp not in the unpacked packages"
			install -D -m 0755 "$src" "$STAGE$interp"
		fi
	done
	while [ ${#queue[@]} -gt 0 ]; do
		bin=${queue[0]}; queue=("${queue[@]:1}")
		for lib in $(needed_of "$bin"); do
			case $seen in *" $lib "*) continue ;; esac
			seen="$seen$lib "
			src=$(find_lib "$lib") ||
				vd_die "NEEDED $lib (of $(basename "$bin")) is in none of: ${USERLAND[*]}; add its package"
			install -D -m 0755 "$src" "$STAGE/lib/x86_64-linux-gnu/$lib"
			queue+=("$src")
		done
	done
}

modinfo_field() { # decompressed .ko, field -> values
	local tmp
	tmp=$(mktemp)
	objcopy -O binary --only-section=.modinfo "$1" "$tmp" 2>/dev/null || true
	tr '\0' '\n' <"$tmp" | sed -n "s/^$2=//p"
	rm -f "$tmp"
}

# Decompress the wanted modules and their dependencies; write the load order (a module
# after everything it depends on). The deb has no modules.dep, so .modinfo depends= is it.
copy_modules() {
	local moddir=$1 order=() visiting=" " done_=" "
	declare -A path_of
	local f name
	while IFS= read -r f; do
		name=${f##*/}; name=${name%.ko*}; name=${name//-/_}
		path_of[$name]=$f
	done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
	mkdir -p "$STAGE/lib/modules/vd"
	visit() {
		local m=${1//-/_} f dep ko
		case $done_ in *" $m "*) return ;; esac
		case $visiting in *" $m "*) vd_die "module dependency cycle at $m" ;; esac
		visiting="$visiting$m "
		f=${path_of[$m]:-}
		[ -n "$f" ] || vd_die "module $m not found in the kernel package"
		ko="$STAGE/lib/modules/vd/$m.ko"
		case $f in
		*.xz) xz -dc "$f" >"$ko" ;;
		*.zst) zstd -qdc "$f" >"$ko" ;;
		*.gz) gzip -dc "$f" >"$ko" ;;
		*) cp "$f" "$ko" ;;
		esac
		for dep in $(modinfo_field "$ko" depends | tr ',' ' '); do visit "$dep"; done
		done_="$done_$m "
		order+=("$m")
	}
	for name in "${MODULES[@]}"; do visit "$name"; done
	printf '%s\n' "${order[@]}" >"$STAGE/lib/modules/vd/order"
}

# Extract the uncompressed vmlinux from a bzImage: QEMU boots it through its PVH entry
# point, which saves the in-guest decompression (about 0.8 s under TCG).
extract_vmlinux() {
	local bz=$1 out=$2 setup_sects off len magic tmp
	setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	[ "$setup_sects" -eq 0 ] && setup_sects=4
	off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
	len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
	off=$(((setup_sects + 1) * 512 + off))
	tmp=$(mktemp)
	# The payload ends with the 4-byte uncompressed size, which is not part of the stream.
	tail -c +$((off + 1)) "$bz" | head -c $((len - 4)) >"$tmp"
	magic=$(od -An -tx1 -N6 "$tmp" | tr -d ' ')
	case $magic in
	28b52ffd*) zstd -qdc "$tmp" >"$out" ;;
	fd377a585a00) xz -dc "$tmp" >"$out" ;;
	1f8b*) gzip -dc "$tmp" >"$out" ;;
	*) rm -f "$tmp"; return 1 ;;
	esac
	rm -f "$tmp"
	# QEMU boots an ELF kernel only through its PVH entry: the Xen note of type 18
	# (XEN_ELFNOTE_PHYS32_ENTRY), which readelf does not name.
	readelf -n "$out" 2>/dev/null | grep -q '^ *Xen .*(0x00000012)'
}

# ---------------------------------------------------------------------------------------
vd_lock
vd_apt_update
DEBS=$VD_GUEST_CACHE/debs
mkdir -p "$DEBS"

KPKG=$(pick_kernel)
declare -A VER
while read -r p v; do VER[$p]=$v; done < <(candidates "$KPKG" "${USERLAND[@]}")
for p in "$KPKG" "${USERLAND[@]}"; do
	[ -n "${VER[$p]:-}" ] || vd_die "no candidate version of $p in the private apt lists"
done
KVER=${KPKG#linux-image-}

manifest() {
	for p in "$KPKG" "${USERLAND[@]}"; do echo "$p ${VER[$p]}"; done
}
STAMP=$( { manifest; cat "$0" "$VD_GUEST_DIR/lib.sh" "$VD_GUEST_DIR/init.sh"; } | sha256sum | cut -d' ' -f1)

if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$STAMP" ] &&
	[ -f "$OUT/initramfs.cpio.gz" ] && [ -f "$OUT/bzImage" ]; then
	vd_log "image up to date in $OUT ($KPKG ${VER[$KPKG]})"
	exit 0
fi

ROOTS=()
KROOT=""
KEEP=" "
for p in "$KPKG" "${USERLAND[@]}"; do
	deb=$(fetch_deb "$p" "${VER[$p]}")
	dir=$(unpack_deb "$deb")
	KEEP="$KEEP$(basename "$deb" .deb) "
	if [ "$p" = "$KPKG" ]; then KROOT=$dir; else ROOTS+=("$dir"); fi
done
# Superseded versions (a new kernel upload) would otherwise pile up in the cache.
for f in "$DEBS"/*.deb "$VD_GUEST_CACHE"/unpacked/*; do
	[ -e "$f" ] || continue
	b=$(basename "$f" .deb)
	case $KEEP in *" $b "*) ;; *) vd_log "removing superseded $b"; rm -rf "$f" ;; esac
done

BUILD=$(mktemp -d "$VD_GUEST_CACHE/build.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT
STAGE=$BUILD/root
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,data,out,lib/x86_64-linux-gnu}

# busybox: the shell, the applets and the cpio writer (static, so it also runs on the host).
BB=$(resolve_in_roots /bin/busybox) || vd_die "busybox not found in busybox-static"
install -m 0755 "$BB" "$STAGE/bin/busybox"
ln -s busybox "$STAGE/bin/sh"

copy_binaries
ln -s aplay "$STAGE/usr/bin/arecord"
ASHARE=$(resolve_in_roots /usr/share/alsa/alsa.conf) || vd_die "alsa.conf not in libasound2-data"
mkdir -p "$STAGE/usr/share"
cp -a "$(dirname "$ASHARE")" "$STAGE/usr/share/"

MODDIR=$KROOT/lib/modules/$KVER
[ -d "$MODDIR" ] || vd_die "no lib/modules/$KVER in $KPKG (a split 6.19+ package needs linux-modules-*)"
copy_modules "$MODDIR"

install -m 0755 "$VD_GUEST_DIR/init.sh" "$STAGE/init"
# The guest reports which packages it was built from.
mkdir -p "$STAGE/etc"
manifest >"$STAGE/etc/vdtest-versions"

# The archive: busybox cpio in newc format, entries sorted for a reproducible layout.
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | sed 's|^\./||' |
	"$STAGE/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -6n >"$BUILD/initramfs.cpio.gz"

cp "$KROOT/boot/vmlinuz-$KVER" "$BUILD/bzImage"
if ! extract_vmlinux "$BUILD/bzImage" "$BUILD/vmlinux"; then
	vd_log "could not extract a PVH-bootable vmlinux; run-guest.sh will boot the bzImage"
	rm -f "$BUILD/vmlinux"
fi
cp "$KROOT/boot/config-$KVER" "$BUILD/config" 2>/dev/null || true
install -m 0755 "$BB" "$BUILD/busybox"
manifest >"$BUILD/versions"
echo "$KVER" >"$BUILD/kernel-release"
echo "$STAMP" >"$BUILD/stamp"

mkdir -p "$OUT"
rm -f "$OUT"/{stamp,initramfs.cpio.gz,vmlinux,bzImage,config,busybox,versions,kernel-release}
for f in initramfs.cpio.gz vmlinux bzImage config busybox versions kernel-release stamp; do
	[ -e "$BUILD/$f" ] && mv "$BUILD/$f" "$OUT/$f"
done
vd_log "image built in $OUT: $KPKG ${VER[$KPKG]}, initramfs $(du -k "$OUT/initramfs.cpio.gz" | cut -f1) KiB, $(find "$STAGE" -type f | wc -l) files"
