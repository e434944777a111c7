#!/bin/sh
# The README's first command: mhookd hooking a bundled program, so a new user sees what
# it reports. build/targets/counter runs 2 threads that each call counter_exe_fn (in the
# executable) and counter_lib_fn (in libcounter.so) 3 times.
set -e
cd "$(dirname "$0")/.."
M=build/mhookd
run() {
	echo
	echo "\$ $*"
	"$@"
}
echo "== mhookd starts a program and reports every call (text, on stderr):"
run $M -f counter_exe_fn -f libcounter:counter_lib_fn -- build/targets/counter 2 3
echo
echo "== the same as JSON lines, on stdout:"
run $M --json -o - -f counter_exe_fn -- build/targets/counter 1 2
echo
echo "== a real program: sqlite3, counting sqlite3_step and malloc (summaries only):"
printf 'create table t(x);\ninsert into t values (1),(2),(3);\nselect sum(x) from t;\n' >/tmp/mhook-demo.sql
run $M -c -f sqlite3_step -f libc:malloc -- sqlite3 :memory: -init /tmp/mhook-demo.sql .quit
rm -f /tmp/mhook-demo.sql

echo
echo "== a library that arrives later: python3 imports sqlite3 (a dlopen), and sqlite3_step"
echo "   is armed when libsqlite3 is loaded; -s hwbp uses debug registers instead of int3:"
run $M -s hwbp -c -f sqlite3_step -- /usr/bin/python3 -c \
	"import sqlite3; c = sqlite3.connect(':memory:'); print(c.execute('select 6*7').fetchone())"
