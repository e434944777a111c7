#!/usr/bin/python3
"""`make bench`: the cost of one swbp-hooked call next to a bare ptrace round trip,
measured in one run, pinned to one CPU and unpinned.

- swbp per call: build/targets/bench_target N calls bench_fn N times and times its own loop;
  run under `mhookd -c -f bench_fn -- bench_target N`, minus the unhooked loop time, over N.
  With -c no event leaves the tracer thread; the second row writes every call as a JSON
  line to a file (`--json -o FILE`), through the event queue and the sink thread, and
  checks that the file holds exactly N call events.
- ptrace round trip: build/tools/ptrace_rtt N (a child executing int3 N times; the tracer
  does waitpid, PTRACE_GETREGS, PTRACE_CONT per trap), time per trap.
- pinned: `taskset -c 0` around mhookd (its command inherits the mask) and around ptrace_rtt
  (its child inherits it), so tracer and tracee share one CPU. Unpinned: the scheduler's
  choice; on these VMs waking the other vCPU costs more than the stop
  (a cross-CPU wake-up is ~70 us here against a ~9 us pinned round trip).
- SIGTRAP blocked, handled, ignored: the same swbp -c run on a target that first blocks
  SIGTRAP (with a handler installed), handles it, or ignores it (bench_target --sigtrap):
  what keeping the target's signal handling costs per hit (docs/architecture.md).
- --baseline MHOOKD measures a second mhookd too (an older build, say), interleaved with
  the first in the same run, so that the two can be compared: figures of different runs
  cannot.

N is calibrated so each figure takes about BENCH_SECS (default 5) seconds, as the median of
3 runs; the whole run is a few minutes. Figures swing between runs: compare only figures from the same run.
Usage: tools/bench.py [--secs S] [--baseline MHOOKD]; MHOOKD=path selects the mhookd binary."""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MHOOKD = os.environ.get("MHOOKD", os.path.join(REPO, "build", "mhookd"))
TARGET = os.path.join(REPO, "build", "targets", "bench_target")
RTT = os.path.join(REPO, "build", "tools", "ptrace_rtt")
PIN = ["taskset", "-c", "0"]
REPEAT = 3


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


def hooked_ns_per_call(n, pin, mhookd=MHOOKD, json_calls=False, sigtrap=None):
    """Overhead per hooked call; with json_calls every call is reported to a file. sigtrap:
    the target first ignores, blocks or handles SIGTRAP (bench_target --sigtrap)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as rep:
        mode = [] if json_calls else ["-c"]
        extra = ["--sigtrap=" + sigtrap] if sigtrap else []
        r = run((PIN if pin else []) + [mhookd] + mode + ["--json", "-o", rep.name,
                                                        "-f", "bench_fn", "--", TARGET, str(n)]
                + extra)
        ncall = 0
        summaries = []
        for line in rep:
            if line.startswith('{"event":"call"'):
                ncall += 1
            elif '"summary"' in line:
                e = json.loads(line)
                if e.get("func") == "bench_fn":
                    summaries.append(e["calls"])
    if summaries != [n]:
        die("%s counted %r calls of bench_fn, expected %d" % (mhookd, summaries, n))
    if json_calls and ncall != n:
        die("%s wrote %d call events of bench_fn, expected %d" % (mhookd, ncall, n))
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
    ap.add_argument("--baseline", help="another mhookd to measure in the same run")
    args = ap.parse_args()
    for p in (MHOOKD, TARGET, RTT) + ((args.baseline,) if args.baseline else ()):
        if not os.access(p, os.X_OK):
            die("%s is missing: run `make all targets`" % p)

    base = unhooked_ns_per_call()
    binaries = [("", MHOOKD)] + ([(" [base]", args.baseline)] if args.baseline else [])
    samples = {}  # label -> {pin: [ns, ...]}
    counts = {}

    def add(label, pin, ns):
        samples.setdefault(label, {}).setdefault(pin, []).append(ns)

    for pin in (True, False):
        # Each figure is the median of REPEAT shorter runs, interleaved over the
        # binaries, so that one burst of load on this shared machine moves neither.
        n_hook = calibrate(lambda n: hooked_ns_per_call(n, pin), args.secs / REPEAT)
        n_rtt = calibrate(lambda n: rtt_ns(n, pin), args.secs / REPEAT)
        counts[pin] = (n_hook * REPEAT, n_rtt * REPEAT)
        for _ in range(REPEAT):
            add("ptrace stop+GETREGS+CONT (ns)", pin, rtt_ns(n_rtt, pin))
            for tag, binary in binaries:
                add("swbp -c (ns)" + tag, pin, hooked_ns_per_call(n_hook, pin, binary) - base)
            for tag, binary in binaries:
                add("swbp --json -o FILE (ns)" + tag, pin,
                    hooked_ns_per_call(n_hook, pin, binary, json_calls=True) - base)
            # What keeping the target's SIGTRAP handling costs (docs/architecture.md):
            # a mask write per call when it is blocked, a /proc read when it is handled,
            # two injected rt_sigaction when it is ignored (so fewer calls there).
            for how, label, n_how in (("block", "blocked", n_hook // 8),
                                      ("handle", "handled", n_hook // 2),
                                      ("ignore", "ignored", n_hook // 8)):
                add("swbp -c, SIGTRAP %s (ns)" % label, pin,
                    hooked_ns_per_call(n_how, pin, sigtrap=how) - base)
    rows = {label: {pin: statistics.median(v) for pin, v in by_pin.items()}
            for label, by_pin in samples.items()}
    # For reference only: a tracer that polls waitpid(WNOHANG) (unpinned, where it matters).
    n_spin = calibrate(lambda n: rtt_ns(n, False, spin=True), args.secs / 2)
    spin = rtt_ns(n_spin, False, spin=True)

    rtt = rows["ptrace stop+GETREGS+CONT (ns)"]
    print("mhookd swbp vs a bare ptrace round trip (%s, %d CPUs)" % (os.uname().release,
                                                                   os.cpu_count()))
    print("unhooked call: %.1f ns" % base)
    print()
    print("%-44s %14s %14s" % ("", "pinned (cpu 0)", "unpinned"))
    for label, v in rows.items():
        print("%-44s %14.0f %14.0f" % (label, v[True], v[False]))
    for label, v in rows.items():
        if label.startswith("swbp"):
            print("%-44s %14.2f %14.2f" % ("ratio " + label.replace(" (ns)", "") + " / trip",
                                            v[True] / rtt[True], v[False] / rtt[False]))
    print("%-44s %14s %14.0f" % ("  round trip polling WNOHANG (ns)", "-", spin))
    print("%-44s %14d %14d" % ("hooked calls measured, per row", counts[True][0], counts[False][0]))
    print("%-44s %14d %14d" % ("round trips measured", counts[True][1], counts[False][1]))
    print()
    print("goal: ratio <= 1.2 (one stop per call, no single-step). The round trip blocks in")
    print("waitpid; mhookd may poll before blocking, so unpinned it can beat the blocking figure.")


if __name__ == "__main__":
    main()
