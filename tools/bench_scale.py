#!/usr/bin/python3
"""`make bench`, third part: how swbp scales with target threads and with hooks, in one run.

- trip: the pinned bare int3 ptrace round trip (build/tools/ptrace_rtt N under
  `taskset -c 0`: stop, GETREGS, CONT), the floor of a stop-based hook.
- swbp per call, unpinned (as users run it), with 1, 2 and 8 target threads:
  `mhookd -c -f bench_fn -- bench_target N T`; the target times its loops (wall time from
  the start of the first to the end of the last), and the cost per call is that time over
  the N*T calls, minus the unhooked call. Each against the pinned trip. The tracer is one
  thread, so calls of several threads are served one stop at a time: what more threads buy
  is that a stop is always waiting, and the cross-CPU wake-up is not paid per call.
- rate: hooked calls per second with 8 threads against 1 thread, from the same runs.
- 1,000 hooks against 1: the same one-thread run with 999 libc functions hooked besides
  bench_fn (each a distinct hook: aliases of one code are dropped), pinned and unpinned.
  The hook lookup on each stop is a hash, so the two must cost the same.
- ready with 1,000 hooks: `mhookd -p PID` on a waiting bench_target (`--wait`), from the
  start of mhookd to its `ready` event on stdout (--json -o -): reading the symbols of
  every object, preparing and arming 1,000 breakpoints, the median of 3.

Every figure is the median of 3 runs; N is calibrated so that each takes about
BENCH_SECS / 3 (default 5 s in all). Figures of one run only are comparable.
Usage: tools/bench_scale.py [--secs S]; MHOOKD=path selects the mhookd binary."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import MHOOKD, PIN, REPEAT, RTT, TARGET, calibrate, die, field, run  # noqa: E402

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
HOOKS = 1000


def rtt_ns(n):
    """The pinned round trip: bench.py's."""
    return bench.rtt_ns(n, True)


def unhooked_ns():
    n = 20000000
    return statistics.median(field(run([TARGET, str(n)]).stdout, "loop_ns") / n
                             for _ in range(REPEAT))


def hooked_ns(n, threads, pin, specs=()):
    """Loop time per call under `mhookd -c`, its N*threads calls checked in the summary."""
    args = [a for s in specs for a in ("-f", s)]
    r = run((PIN if pin else []) + [MHOOKD, "-c", "--json", "-o", "-", "-f", "bench_fn"] + args
            + ["--", TARGET, str(n), str(threads)])
    calls = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{"event":"summary"')]
    got = sum(ev["calls"] for ev in calls if ev["func"] == "bench_fn")
    if got != n * threads:
        die("bench_fn: %d calls counted, %d made" % (got, n * threads))
    return field(r.stdout, "loop_ns") / (n * threads)


def libc_functions():
    r = run(["nm", "-D", "--defined-only", LIBC])
    names = set()
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in ("T", "W") and "@@" in f[2]:
            names.add(f[2].split("@")[0])
    return sorted(names)


def start_waiting_target():
    t = subprocess.Popen([TARGET, "1", "--wait"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    return t, int(t.stdout.readline().split()[1])


def attach_until_ready(specs):
    """Seconds from mhookd's start to its ready event, and that event's hooks."""
    t, pid = start_waiting_target()
    args = [a for s in specs for a in ("-f", s)]
    t0 = time.monotonic()
    m = subprocess.Popen([MHOOKD, "-p", str(pid), "--json", "-c", "-o", "-"] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = m.stdout.readline()
    took = time.monotonic() - t0
    t.stdin.write("\n")
    t.stdin.close()
    t.wait()
    err = m.communicate()[1]
    if not line.startswith('{"event":"ready"'):
        die("mhookd -p with %d SPECs did not get ready: %s" % (len(specs), err.strip()))
    return took, json.loads(line)["hooks"]


def distinct_specs(count):
    """count - 1 SPECs of libc functions that become distinct hooks, and bench_fn: a few
    more names are asked for than needed, since aliases share one hook."""
    names = libc_functions()
    _, hooks = attach_until_ready(["bench_fn"] + ["libc:" + f for f in names[:count + 200]])
    specs = [h["spec"] for h in hooks if h["spec"] != "bench_fn"][:count - 1]
    if len(specs) < count - 1:
        die("only %d distinct libc hooks" % len(specs))
    return specs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secs", type=float, default=float(os.environ.get("BENCH_SECS", "5")),
                    help="seconds per measurement (default 5)")
    args = ap.parse_args()
    for p in (MHOOKD, TARGET, RTT):
        if not os.access(p, os.X_OK):
            die("%s is missing: run `make all targets`" % p)
    secs = args.secs / REPEAT
    base = unhooked_ns()
    many = distinct_specs(HOOKS)

    n_rtt = calibrate(rtt_ns, secs)
    n1 = calibrate(lambda n: hooked_ns(n, 1, False), secs)
    samples = {}

    def add(key, v):
        samples.setdefault(key, []).append(v)

    for _ in range(REPEAT):
        add("trip", rtt_ns(n_rtt))
        for threads in (1, 2, 8):
            add(("threads", threads), hooked_ns(max(1000, n1 // threads), threads, False))
        for pin in (True, False):
            add(("hooks", 1, pin), hooked_ns(n1, 1, pin))
            add(("hooks", HOOKS, pin), hooked_ns(n1, 1, pin, many))
        add("ready", attach_until_ready(["bench_fn"] + many)[0])
    med = {k: statistics.median(v) for k, v in samples.items()}
    trip = med["trip"]

    print("swbp with more threads and more hooks (%s, %d CPUs), medians of %d runs"
          % (os.uname().release, os.cpu_count(), REPEAT))
    print("unhooked call: %.1f ns; pinned bare int3 round trip: %.0f ns" % (base, trip))
    print()
    print("%-52s %10s %10s" % ("", "ns/call", "/ trip"))
    for threads in (1, 2, 8):
        ns = med[("threads", threads)] - base
        print("%-52s %10.0f %10.2f" % ("swbp unpinned, %d target thread%s" % (
            threads, "s" if threads > 1 else ""), ns, ns / trip))
    for pin in (True, False):
        for hooks in (1, HOOKS):
            ns = med[("hooks", hooks, pin)] - base
            print("%-52s %10.0f %10.2f" % ("swbp %s, %d hook%s armed" % (
                "pinned" if pin else "unpinned", hooks, "s" if hooks > 1 else ""), ns, ns / trip))
    print()
    rate1 = 1e9 / med[("threads", 1)]
    rate8 = 1e9 / med[("threads", 8)]
    print("hooked calls/s: %.0f with 1 thread, %.0f with 8: 8 threads / 1 thread = %.2f"
          % (rate1, rate8, rate8 / rate1))
    for pin in (True, False):
        print("%d hooks / 1 hook, per call, %s: %.2f" % (
            HOOKS, "pinned" if pin else "unpinned",
            (med[("hooks", HOOKS, pin)] - base) / (med[("hooks", 1, pin)] - base)))
    print("ready with %d hooks (mhookd -p, from its start): %.1f ms" % (HOOKS, med["ready"] * 1e3))
    print()
    print("goal (issue 15): unpinned swbp at most 1.5 x the pinned trip")


if __name__ == "__main__":
    main()
