#!/usr/bin/env bash
# tests/unit/install.sh - the installed library as a user of it sees it (TAP): `meson install`
# into a scratch DESTDIR, then the pkg-config file, the public headers, the library, the
# binary and the man pages from there, with nothing from the source or build tree.
# Arguments: BUILD_DIR PREFIX LIBDIR SANITIZE (the meson options the build was set up with).
set -u
build=$1 prefix=$2 libdir=$3 sanitize=$4
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
echo "1..7"

if out=$(meson install -C "$build" --destdir "$dest" --no-rebuild --quiet 2>&1); then
	ok "meson install into a DESTDIR"
else
	not_ok "meson install into a DESTDIR" "$out"
fi

pc=$dest$libdir/pkgconfig/virtdsp.pc
# The .pc file names the final prefix; point it at the DESTDIR copy.
pkg() { PKG_CONFIG_PATH=$dest$libdir/pkgconfig pkg-config --define-variable=prefix="$dest$prefix" "$@" virtdsp; }
if [ -f "$pc" ] && ver=$(pkg --modversion 2>&1) && [ "$ver" = "$(meson introspect "$build" --projectinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" ]; then
	ok "virtdsp.pc installed, version $ver"
else
	not_ok "virtdsp.pc installed with the project's version" "pc: $pc" "${ver:-}"
fi

# Every public header on its own, then all together, in a program that runs a topology.
cflags=$(pkg --cflags 2>&1) libs=$(pkg --libs 2>&1)
san=
[ "$sanitize" != none ] && san=-fsanitize=$sanitize
hdr_fail=
for h in "$dest$prefix"/include/virtdsp/*.h; do
	echo "#include <virtdsp/$(basename "$h")>" >"$tmp/one.c"
	if ! out=$(cc -std=gnu11 -Wall -Wextra -Werror $cflags -fsyntax-only "$tmp/one.c" 2>&1); then
		hdr_fail="$hdr_fail $(basename "$h"): $out"
	fi
done
count=$(ls "$dest$prefix"/include/virtdsp/*.h | wc -l)
if [ -z "$hdr_fail" ] && [ "$count" -ge 10 ]; then
	ok "each of the $count installed headers compiles on its own with the pc file's flags"
else
	not_ok "each installed header compiles on its own" "$hdr_fail" "headers: $count"
fi

{
	for h in "$dest$prefix"/include/virtdsp/*.h; do echo "#include <virtdsp/$(basename "$h")>"; done
	cat <<'C'
#include <stdio.h>
#include <string.h>

int main(void)
{
	static const char text[] = "pipeline p {\n  rate = 48000\n"
		"  node t tone { level = -6dB; duration = 0.1s }\n  sink out null\n  link t -> out\n}\n";
	struct vd_topology *t;
	struct vd_graph *g;
	struct vd_sink_stats s;
	struct vd_error err = { 0 };

	if (vd_topology_load_string(text, strlen(text), "user.topo", &t, NULL) < 0 || vd_graph_new(&g) < 0 ||
	    vd_topology_build(t, g, NULL) < 0 || vd_graph_run(g, NULL, NULL, &err) < 0 ||
	    vd_graph_sink_stats(g, 0, &s) < 0)
		return 1;
	printf("%s %llu %.4f\n", s.name, (unsigned long long)s.frames, s.peak[0]);
	vd_graph_free(g);
	vd_topology_free(t);
	return 0;
}
C
} >"$tmp/user.c"
if out=$(cc -std=gnu11 -Wall -Wextra -Werror $san $cflags "$tmp/user.c" -o "$tmp/user" $libs -Wl,-rpath,"$dest$libdir" 2>&1); then
	ok "a program builds and links with \`pkg-config --cflags --libs virtdsp\`"
else
	not_ok "a program builds and links with pkg-config's flags" "cflags: $cflags" "libs: $libs" "$out"
fi
# 0.1 s at 48 kHz into the null sink, peak 10^(-6/20) = 0.5012; LD_LIBRARY_PATH unset so
# only the installed copy can be found (through the rpath)
if out=$(env -u LD_LIBRARY_PATH "$tmp/user" 2>&1) && [ "$out" = "out 4800 0.5012" ] &&
   env -u LD_LIBRARY_PATH ldd "$tmp/user" | grep -q "$dest$libdir/libvirtdsp.so"; then
	ok "it runs a topology against the installed library: $out"
else
	not_ok "it runs a topology against the installed library" "output: $out (want 'out 4800 0.5012')" \
		"$(env -u LD_LIBRARY_PATH ldd "$tmp/user" 2>&1 | grep virtdsp)"
fi

if out=$(env -u LD_LIBRARY_PATH LD_LIBRARY_PATH="$dest$libdir" "$dest$prefix/bin/virtdsp" --version 2>&1) &&
   [ "$out" = "virtdsp $ver" ]; then
	ok "the installed virtdsp runs: $out"
else
	not_ok "the installed virtdsp runs" "$out"
fi

missing=
for cmd in "" -run -convert -serve -ctl; do
	m=$dest$prefix/share/man/man1/virtdsp$cmd.1
	[ -s "$m" ] && head -1 "$m" | grep -q "^\.TH VIRTDSP" || missing="$missing virtdsp$cmd.1"
done
if [ -z "$missing" ]; then
	ok "a man page per subcommand installed in man1"
else
	not_ok "a man page per subcommand installed in man1" "missing:$missing"
fi
[ "$failed" -eq 0 ]
