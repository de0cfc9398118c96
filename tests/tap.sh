# shellcheck shell=bash disable=SC2034 # failed: the sourcing script reads it
# SPDX-License-Identifier: GPL-2.0
# TAP lines for the host test scripts, which source this file. ok STATUS
# NAME prints "ok N - NAME" when STATUS is 0, else "not ok N - NAME" and
# sets failed=1; it returns STATUS, so "ok $? NAME || show why" reads as it
# runs. The script ends with "exit $failed".
n=0 failed=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
	return "$1"
}
