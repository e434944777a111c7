#!/bin/sh
# Runs C test programs: one shell command per argument (a binary, maybe with an env
# prefix or an emulator before it). Exit status 77 means the test skipped itself, as
# automake's and strace's test programs have it: it could not run here, which is not a
# pass. Prints one line per skip or failure and a closing count; fails if any failed.
pass=0
fail=0
skip=0
for cmd in "$@"; do
	echo "== $cmd"
	sh -c "$cmd"
	rc=$?
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)); echo "-- skipped: $cmd" ;;
	*) fail=$((fail + 1)); echo "-- FAILED (exit $rc): $cmd" ;;
	esac
done
echo "C test programs: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
