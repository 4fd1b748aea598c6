# tests/guest/tap.sh - TAP helpers shared by the real-guest test scripts (sourced, not run):
# counted ok/not ok lines, checks of commands and of the guest's results.txt key=value files,
# and wall-clock timing. The sourcing script prints the plan and ends with [ $failed = 0 ].
# shellcheck shell=bash

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { # description, command... : ok when the command succeeds
	local d=$1; shift
	local out
	if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d" "command: $*" "${out//$'\n'/ | }"; fi
}
check_kv() { # description, command... : ok when it succeeds; its key=value output in the line
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
result() { sed -n "s/^$2=//p" "$1" | head -1; } # results file, key -> value
expect() { # description, results file, key, expected value
	local v
	v=$(result "$2" "$3")
	if [ "$v" = "$4" ]; then ok "$1"; else not_ok "$1" "$3 is '$v', expected '$4'"; fi
}
expect_range() { # description, results file, key, min, max
	local v
	v=$(result "$2" "$3")
	if [ -n "$v" ] && awk -v v="$v" -v lo="$4" -v hi="$5" 'BEGIN { exit !(v >= lo && v <= hi) }'; then
		ok "$1 ($3=$v)"
	else
		not_ok "$1" "$3 is '$v', expected within [$4, $5]"
	fi
}
guest_ran() { # description, run-guest.sh exit code, its log: ok when it exited 0
	if [ "$2" = 0 ]; then ok "$1"; else
		not_ok "$1" "run-guest.sh exit $2" "$(grep -v '^VDTEST: pkg' "$3" | tail -15 | tr '\n' '|')"
	fi
}
