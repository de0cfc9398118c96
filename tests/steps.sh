# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The steps of a check run (sourced by tests/check and tests/vm/check-trixie):
# each step's output is shown and kept in $out/NAME.log, its TAP lines
# ("ok N", "not ok N", with or without a "[tag] " prefix) are counted, and
# steps_end prints the timing table and "N passed, N failed".
# The caller sets out (the log directory).
pass=0 fail=0
timings=()

# step NAME CMD...: run CMD, echo its output, count its TAP lines; a command
# that fails without a "not ok" line counts as one failure.
step() {
	local name=$1 t0 rc p f log=${out:?}/$1.log
	shift
	echo "==> $name"
	t0=$(date +%s)
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -cE '^(\[[^]]*\] )?ok [0-9]+ ' "$log")
	f=$(grep -cE '^(\[[^]]*\] )?not ok( [0-9]+)? ' "$log")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - $name # exited with status $rc"
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f))
	timings+=("$(printf '%-28s %4ss  %3s passed, %s failed' "$name" $(( $(date +%s) - t0 )) "$p" "$f")")
}

# steps_end: the timing table and the summary line; fails if anything did.
steps_end() {
	echo
	echo "==> timing"
	printf '%s\n' "${timings[@]}"
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
}
