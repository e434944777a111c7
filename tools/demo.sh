#!/bin/sh
# The README's first command: mhookd hooking a bundled program, so a new user sees what
# it reports. build/targets/counter runs 2 threads that each call counter_exe_fn (in the
# executable) and counter_lib_fn (in libcounter.so) 3 times.
set -e
cd "$(dirname "$0")/.."
M=build/mhookd
# Prints a command as a shell would read it back, each argument quoted where it needs to
# be, so that a user can paste it.
show() {
	printf '$'
	for a in "$@"; do
		case $a in
		'' | *[!A-Za-z0-9_./:=+,@%-]*)
			printf " '%s'" "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")" ;;
		*) printf ' %s' "$a" ;;
		esac
	done
	echo
}
run() {
	echo
	show "$@"
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

echo
echo "== mhookd as a daemon on a socket, and mhook, its client: a running counter is"
echo "   hooked by request, its calls streamed; the client's Ctrl-C (here a SIGINT after"
echo "   the counter's work) unhooks, and mhookd detaches since nothing else holds it:"
D=$(mktemp -d)
mkfifo "$D/gate"
build/targets/counter 2 3 --wait --linger <"$D/gate" >"$D/counter.out" 2>&1 &
CPID=$!
exec 9>"$D/gate"   # the counter's stdin: a line opens its gate
while ! grep -q ready "$D/counter.out" 2>/dev/null; do sleep 0.05; done
$M --listen "$D/mh.sock" 2>"$D/mhookd.err" &
MPID=$!
while [ ! -S "$D/mh.sock" ]; do sleep 0.05; done
echo "\$ build/mhook -S $D/mh.sock attach $CPID -f counter_exe_fn"
build/mhook -S "$D/mh.sock" attach "$CPID" -f counter_exe_fn &
KPID=$!
sleep 0.5
echo >&9
sleep 0.5
kill -INT "$KPID"; wait "$KPID" || true
echo >&9; exec 9>&-
wait "$CPID" || true
kill -TERM "$MPID"; wait "$MPID" || true
rm -rf "$D"
