#!/usr/bin/python3
"""`make bench`: the cost of one swbp-hooked call next to a bare ptrace round trip,
measured in one run, pinned to one CPU and unpinned.

- swbp per call: build/targets/bench_target N calls bench_fn N times and times its own loop;
  run under `mhookd -c -f bench_fn -- bench_target N`, minus the unhooked loop time, over N.
- ptrace round trip: build/tools/ptrace_rtt N (a child executing int3 N times; the tracer
  does waitpid, PTRACE_GETREGS, PTRACE_CONT per trap), time per trap.
- pinned: `taskset -c 0` around mhookd (its command inherits the mask) and around ptrace_rtt
  (its child inherits it), so tracer and tracee share one CPU. Unpinned: the scheduler's
  choice; on these VMs waking the other vCPU costs more than the stop (DESIGN section 7).

N is calibrated so each measurement takes about BENCH_SECS (default 5) seconds, so the whole
run is about 30 s. Figures swing between runs: compare only figures from the same run.
Usage: tools/bench.py [--secs S]; MHOOKD=path selects the mhookd binary."""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MHOOKD = os.environ.get("MHOOKD", os.path.join(REPO, "build", "mhookd"))
TARGET = os.path.join(REPO, "build", "targets", "bench_target")
RTT = os.path.join(REPO, "build", "tools", "ptrace_rtt")
PIN = ["taskset", "-c", "0"]


def die(msg):
    sys.exit("bench: " + msg)


def field(text, name):
    m = re.search(r"^%s=(\d+)$" % name, text, re.M)
    if not m:
        die("no %s= in output: %r" % (name, text[-300:]))
    return int(m.group(1))


def run(cmd, timeout=300):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        die("%s exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()[-500:]))
    return r


def unhooked_ns_per_call():
    n = 20000000
    return field(run([TARGET, str(n)]).stdout, "loop_ns") / n


def hooked_ns_per_call(n, pin):
    with tempfile.NamedTemporaryFile("r", suffix=".json") as rep:
        r = run((PIN if pin else []) + [MHOOKD, "-c", "--json", "-o", rep.name,
                                         "-f", "bench_fn", "--", TARGET, str(n)])
        calls = [json.loads(l) for l in rep.read().splitlines() if l.strip()]
    calls = [e["calls"] for e in calls if e.get("event") == "summary" and e.get("func") == "bench_fn"]
    if calls != [n]:
        die("mhookd counted %r calls of bench_fn, expected %d" % (calls, n))
    return field(r.stdout, "loop_ns") / n


def rtt_ns(n, pin, spin=False):
    cmd = (PIN if pin else []) + [RTT, str(n)] + (["--spin"] if spin else [])
    return float(field(run(cmd).stdout, "rtt_ns"))


def calibrate(fn, secs, n=10000):
    """Returns N such that fn(N) takes about secs seconds (from a probe of n calls)."""
    per = fn(n)
    return max(n, int(secs * 1e9 / max(per, 1.0)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secs", type=float, default=float(os.environ.get("BENCH_SECS", "5")),
                    help="seconds per measurement (default 5)")
    args = ap.parse_args()
    for p in (MHOOKD, TARGET, RTT):
        if not os.access(p, os.X_OK):
            die("%s is missing: run `make all targets`" % p)

    base = unhooked_ns_per_call()
    res = {}
    for pin in (True, False):
        n_hook = calibrate(lambda n: hooked_ns_per_call(n, pin), args.secs)
        n_rtt = calibrate(lambda n: rtt_ns(n, pin), args.secs)
        hooked = hooked_ns_per_call(n_hook, pin)
        rtt = rtt_ns(n_rtt, pin)
        res[pin] = (hooked - base, rtt, n_hook, n_rtt)
    # For reference only: a tracer that polls waitpid(WNOHANG) (unpinned, where it matters).
    n_spin = calibrate(lambda n: rtt_ns(n, False, spin=True), args.secs / 2)
    spin = rtt_ns(n_spin, False, spin=True)

    print("mhookd swbp vs a bare ptrace round trip (%s, %d CPUs)" % (os.uname().release,
                                                                   os.cpu_count()))
    print("unhooked call: %.1f ns" % base)
    print()
    print("%-34s %14s %14s" % ("", "pinned (cpu 0)", "unpinned"))
    print("%-34s %14.0f %14.0f" % ("swbp overhead per call (ns)", res[True][0], res[False][0]))
    print("%-34s %14.0f %14.0f" % ("ptrace stop+GETREGS+CONT (ns)", res[True][1], res[False][1]))
    print("%-34s %14.2f %14.2f" % ("ratio swbp / round trip", res[True][0] / res[True][1],
                                   res[False][0] / res[False][1]))
    print("%-34s %14s %14.0f" % ("  the same, polling WNOHANG (ns)", "-", spin))
    print("%-34s %14d %14d" % ("hooked calls measured", res[True][2], res[False][2]))
    print("%-34s %14d %14d" % ("round trips measured", res[True][3], res[False][3]))
    print()
    print("goal: ratio <= 1.2 (one stop per call, no single-step). The round trip blocks in")
    print("waitpid; mhookd may poll before blocking, so unpinned it can beat the blocking figure.")


if __name__ == "__main__":
    main()
