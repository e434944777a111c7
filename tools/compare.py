#!/usr/bin/python3
"""`make compare`: one workload under every hooking strategy mhookd has, under ltrace and
under a kernel uprobe, measured in one run and printed as one table.

The workload is build/targets/bench_target: `bench_target N` calls bench_fn N times in one
thread and times its own loop (loop_ns=), so start-up and symbol loading do not count;
`bench_target N 2` runs the same loop in the main thread and one more thread at once.
bench_fn is `lea 0x1(%rdi),%rax; ret`, and the hot loop that calls it sits on the same
page, which is the bad case for nx.

For each tool:
- ns/hit: (hooked loop time - unhooked loop time) / hits, one thread, N calibrated to
  about --secs seconds, tracer and target pinned to CPU 0 (`taskset -c 0`; the target
  inherits the mask), where a ptrace stop costs least (waking another vCPU costs more than the stop).
- stops/hit: ptrace stops of the target per hit. swbp and hwbp: 1 by design (no
  single-step). nx: (calls + collateral) / calls from mhookd's JSON summary of the same
  run. ltrace: measured, wait4 calls of ltrace under `strace -c`, per extra hit of a
  longer run. uprobe: 0, the kernel handles the trap itself (no ptrace at all).
- hits seen / expected, 1 thread (the ns/hit run) and 2 threads (`bench_target M 2`,
  unpinned): every strategy must count every thread's calls; ltrace without -f shows only
  the main thread's.
- reference rows: the bare ptrace round trip (build/tools/ptrace_rtt: stop, GETREGS,
  CONT, nothing else) with an int3 stop and with a hardware-breakpoint stop (--hwbp),
  pinned like the rest: the floor under swbp and hwbp.

The uprobe is placed on a private copy of bench_target (so no other process's calls are
counted), in its own tracefs instance (so the global trace buffer is not touched), and
removed at the end. tracefs is used where it is mounted, or mounted on a temporary
directory and unmounted afterwards; without it (or without root) the row is skipped with
a note. A strategy that this mhookd does not know (`unknown strategy`) is skipped with a
note as well.

Usage: tools/compare.py [--secs S] (default 5; the whole run takes about 12*S seconds).
MHOOKD=path selects the mhookd binary. Figures swing between runs: compare only figures
from the same run."""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MHOOKD = os.environ.get("MHOOKD", os.path.join(REPO, "build", "mhookd"))
TARGET = os.path.join(REPO, "build", "targets", "bench_target")
RTT = os.path.join(REPO, "build", "tools", "ptrace_rtt")
PIN = ["taskset", "-c", "0"]
FUNC = "bench_fn"
STRATEGIES = [
    ("swbp", "int3 at the entry, displaced instruction run out of line"),
    ("hwbp", "x86 debug register (DR0-DR3), resume with RF"),
    ("nx", "code page made non-executable, faults run out of line"),
    ("step", "int3 at the entry, byte put back and single-stepped"),
]
THREADS = 2
REPEAT = 3  # each cost is the best of this many runs: other processes only ever add time
TRACEFS_DIRS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

notes = []


def die(msg):
    sys.exit("compare: " + msg)


TIMEOUT = 60  # seconds for any one command; main() scales it with --secs


def run(cmd, timeout=None, check=True):
    """Runs cmd in a process group of its own; a command that hangs (a tracer bug, say) is
    killed with its whole group after the timeout and reported, so one stuck tool cannot
    stall the comparison."""
    timeout = timeout or TIMEOUT
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.communicate()
        raise RuntimeError("%s: no exit after %ds, killed" % (" ".join(cmd), timeout))
    r = subprocess.CompletedProcess(cmd, p.returncode, out, err)
    if check and r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), r.returncode,
                                                  r.stderr.strip()[-400:]))
    return r


def loop_ns(stdout):
    m = re.search(r"^loop_ns=(\d+)$", stdout, re.M)
    if not m:
        raise RuntimeError("no loop_ns= in %r" % stdout[-300:])
    return int(m.group(1))


def calibrate(per_hit_ns, secs, lo=1000, hi=5000000):
    """N such that N hits take about secs seconds, split over REPEAT runs."""
    return int(min(hi, max(lo, secs * 1e9 / REPEAT / max(per_hit_ns, 1.0))))


class Row:
    def __init__(self, name, mechanism):
        self.name, self.mechanism = name, mechanism
        self.ns = self.stops = None
        self.seen1 = self.exp1 = self.seen2 = self.exp2 = None
        self.note = ""

    def cells(self):
        ns = "%.0f" % self.ns if self.ns is not None else "-"
        stops = self.stops if isinstance(self.stops, str) else \
            ("%.2f" % self.stops if self.stops is not None else "-")
        h1 = "%d / %d" % (self.seen1, self.exp1) if self.exp1 else "-"
        h2 = "%d / %d" % (self.seen2, self.exp2) if self.exp2 else "-"
        return [self.name, self.mechanism, ns, stops, h1, h2]


# --- mhookd ------------------------------------------------------------------------------

def mhookd_run(strategy, n, threads, pin, tmp):
    rep = os.path.join(tmp, "report.jsonl")
    cmd = (PIN if pin else []) + [MHOOKD, "-s", strategy, "-c", "--json", "-o", rep,
                                  "-f", FUNC, "--", TARGET, str(n)]
    if threads > 1:
        cmd.append(str(threads))
    r = run(cmd)
    with open(rep) as f:
        events = [json.loads(l) for l in f if l.strip()]
    s = [e for e in events if e.get("event") == "summary" and e.get("func") == FUNC]
    if len(s) != 1:
        raise RuntimeError("no summary of %s in %s's report" % (FUNC, strategy))
    return loop_ns(r.stdout), s[0]


def strategy_known(strategy):
    r = run([MHOOKD, "-s", strategy, "-c", "-o", os.devnull, "-f", FUNC, "--", TARGET, "1"],
            check=False)
    if r.returncode == 1 and "unknown strategy" in r.stderr:
        return False
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return True


def measure_strategy(strategy, mechanism, base, secs, tmp):
    row = Row("mhookd -s " + strategy, mechanism)
    if not strategy_known(strategy):
        notes.append("%s: skipped, this mhookd does not know it yet (unknown strategy)"
                     % strategy)
        row.note = "not in this mhookd yet"
        return row
    probe = 2000
    t, _ = mhookd_run(strategy, probe, 1, True, tmp)
    n = calibrate(t / probe - base, secs)
    row.seen1 = row.exp1 = calls = coll = 0
    best = None
    for _ in range(REPEAT):
        t, s = mhookd_run(strategy, n, 1, True, tmp)
        best = t if best is None else min(best, t)
        row.seen1 += s["calls"]
        row.exp1 += n
        if s.get("collateral") is None:
            coll = None
        elif coll is not None:
            coll += s["collateral"]
    row.ns = best / n - base
    if strategy == "nx":
        row.stops = (row.seen1 + coll) / row.seen1 if coll is not None and row.seen1 else \
            "? (no collateral in summary)"
    elif strategy == "step":
        row.stops = "2"  # the int3 and the single-step, by design
    else:
        row.stops = "1"
    n2 = max(1000, n // 2)
    try:
        _, s2 = mhookd_run(strategy, n2, THREADS, False, tmp)
        row.seen2, row.exp2 = s2["calls"], n2 * THREADS
    except RuntimeError as e:
        notes.append("%s, %d threads: failed: %s" % (strategy, THREADS, e))
    return row


# --- ltrace ------------------------------------------------------------------------------

def ltrace_cmd(n, threads, follow, out):
    cmd = ["ltrace"] + (["-f"] if follow else []) + ["-L", "-x", FUNC, "-o", out, TARGET,
                                                     str(n)]
    return cmd + ([str(threads)] if threads > 1 else [])


def ltrace_hits(path):
    """Entries of bench_fn that ltrace printed (a call split by another thread's line is
    `bench_fn(... <unfinished ...>` and later `<... bench_fn resumed>`: one hit)."""
    n = 0
    with open(path) as f:
        for line in f:
            if FUNC + "(" in line and "resumed>" not in line:
                n += 1
    return n


def ltrace_run(n, threads, follow, pin, tmp):
    out = os.path.join(tmp, "ltrace.out")
    r = run((PIN if pin else []) + ltrace_cmd(n, threads, follow, out))
    return loop_ns(r.stdout), ltrace_hits(out)


def ltrace_stops_per_hit(follow, tmp):
    """wait4 calls of ltrace (one per stop of the target) under strace -c, for two run
    lengths: the difference per extra hit is ltrace's stops per hit."""
    if not shutil.which("strace"):
        return "? (no strace)"
    counts = []
    for n in (200, 600):
        log = os.path.join(tmp, "strace.txt")
        run(["strace", "-c", "-e", "trace=wait4", "-o", log]
            + ltrace_cmd(n, 1, follow, os.path.join(tmp, "lt.out")))
        m = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)(?:\s+\d+)?\s+wait4$", open(log).read(),
                      re.M)
        if not m:
            return "?"
        counts.append(int(m.group(1)))
    return (counts[1] - counts[0]) / 400.0


def measure_ltrace(follow, base, secs, tmp):
    name = "ltrace -f -x bench_fn" if follow else "ltrace -x bench_fn"
    row = Row(name, "int3 + single-step at the entry, int3 at the return")
    if not shutil.which("ltrace"):
        notes.append("ltrace: skipped, not installed")
        row.note = "not installed"
        return row
    probe = 300
    t, _ = ltrace_run(probe, 1, follow, True, tmp)
    n = calibrate(t / probe - base, secs, lo=300, hi=200000)
    row.seen1 = row.exp1 = 0
    best = None
    for _ in range(REPEAT):
        t, hits = ltrace_run(n, 1, follow, True, tmp)
        if hits == n:
            best = t if best is None else min(best, t)
        row.seen1 += hits
        row.exp1 += n
    row.ns = best / n - base if best is not None else None
    row.stops = ltrace_stops_per_hit(follow, tmp)
    n2 = max(300, n // 2)
    try:
        _, row.seen2 = ltrace_run(n2, THREADS, follow, False, tmp)
        row.exp2 = n2 * THREADS
    except RuntimeError as e:
        notes.append("%s, %d threads: failed: %s" % (name, THREADS, e))
    return row


# --- kernel uprobe -------------------------------------------------------------------------

def file_offset(path, func):
    """The file offset of func's entry: st_value mapped through the LOAD segments."""
    nm = run(["nm", "--defined-only", path]).stdout
    m = re.search(r"^([0-9a-f]+) [Tt] %s$" % func, nm, re.M)
    if not m:
        raise RuntimeError("%s not in %s" % (func, path))
    vaddr = int(m.group(1), 16)
    for line in run(["readelf", "-lW", path]).stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            off, va, filesz = int(f[1], 16), int(f[2], 16), int(f[4], 16)
            if va <= vaddr < va + filesz:
                return vaddr - va + off
    raise RuntimeError("%s: no LOAD segment holds %#x" % (path, vaddr))


class Tracefs:
    """A tracefs mount: the system's, or one of our own on a temporary directory."""

    def __init__(self):
        self.root = self.mounted = None
        for d in TRACEFS_DIRS:
            if os.path.exists(os.path.join(d, "uprobe_events")):
                self.root = d
                return
        d = tempfile.mkdtemp(prefix="mhook-tracefs-")
        r = run(["mount", "-t", "tracefs", "nodev", d], check=False)
        if r.returncode != 0 or not os.path.exists(os.path.join(d, "uprobe_events")):
            if r.returncode == 0:
                self._umount(d)
            else:
                os.rmdir(d)
            raise RuntimeError("tracefs is not mounted and cannot be mounted: %s"
                               % (r.stderr.strip() or "no uprobe_events"))
        self.root = self.mounted = d

    @staticmethod
    def _umount(d):
        run(["umount", d], check=False)
        try:
            os.rmdir(d)
        except OSError:
            pass

    def path(self, *p):
        return os.path.join(self.root, *p)

    def write(self, rel, text, append=False):
        # os.open: Python's "a" mode seeks to the end, which tracefs files refuse
        fd = os.open(self.path(rel), os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC))
        try:
            os.write(fd, (text + "\n").encode())
        finally:
            os.close(fd)

    def close(self):
        if self.mounted:
            self._umount(self.mounted)


class Uprobe:
    """p:GROUP/EVENT PATH:OFFSET, enabled in a tracefs instance of its own."""

    def __init__(self, fs, path, offset):
        self.fs = fs
        self.group, self.event = "mhook_compare", "%s_%d" % (FUNC, os.getpid())
        self.instance = "mhook_compare_%d" % os.getpid()
        self.name = "%s/%s" % (self.group, self.event)
        self.path = path
        fs.write("uprobe_events", "p:%s %s:%#x" % (self.name, path, offset), append=True)
        self.created = True
        os.mkdir(fs.path("instances", self.instance))
        self.enable_file = os.path.join("instances", self.instance, "events", self.group,
                                        self.event, "enable")
        fs.write(self.enable_file, "1")

    def hits(self):
        with open(self.fs.path("uprobe_profile")) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[1] in (self.event, self.name):
                    return int(fields[2])
        raise RuntimeError("%s not in uprobe_profile" % self.name)

    def close(self):
        try:
            self.fs.write(self.enable_file, "0")
        except OSError:
            pass
        try:
            os.rmdir(self.fs.path("instances", self.instance))
        except OSError:
            pass
        try:
            self.fs.write("uprobe_events", "-:%s" % self.name, append=True)
        except OSError as e:
            notes.append("uprobe: could not remove %s: %s" % (self.name, e))


def measure_uprobe(base, secs, tmp):
    row = Row("kernel uprobe (tracefs)", "int3 handled in the kernel, lea single-stepped")
    if os.geteuid() != 0:
        notes.append("uprobe: skipped, needs root")
        row.note = "needs root"
        return row
    try:
        fs = Tracefs()
    except RuntimeError as e:
        notes.append("uprobe: skipped, %s" % e)
        row.note = "no tracefs"
        return row
    copy = os.path.join(tmp, "bench_target")
    shutil.copy(TARGET, copy)
    probe = None
    try:
        probe = Uprobe(fs, copy, file_offset(copy, FUNC))
        n0 = 20000
        t = loop_ns(run(PIN + [copy, str(n0)]).stdout)
        n = calibrate(t / n0 - base, secs, lo=n0, hi=5000000)
        h0 = probe.hits()
        t = min(loop_ns(run(PIN + [copy, str(n)]).stdout) for _ in range(REPEAT))
        h1 = probe.hits()
        row.seen1, row.exp1 = h1 - h0, n * REPEAT
        row.ns = t / n - base
        row.stops = "0 (in kernel)"
        n2 = max(1000, n // 2)
        run([copy, str(n2), str(THREADS)])
        row.seen2, row.exp2 = probe.hits() - h1, n2 * THREADS
        if fs.mounted:
            notes.append("uprobe: tracefs was not mounted; mounted on %s for this run and "
                         "unmounted" % fs.mounted)
    finally:
        if probe:
            probe.close()
        fs.close()
    return row


# --- main ------------------------------------------------------------------------------

def table(rows):
    head = ["tool", "mechanism", "ns/hit", "stops/hit", "hits seen / expected, 1 thread",
            "hits seen / expected, %d threads" % THREADS]
    cells = [r.cells() for r in rows]
    width = [max(len(c[i]) for c in cells + [head]) for i in range(len(head))]
    right = {2, 3, 4, 5}

    def fmt(c):
        return "| " + " | ".join(c[i].rjust(width[i]) if i in right else c[i].ljust(width[i])
                                 for i in range(len(c))) + " |"
    lines = [fmt(head), "|" + "|".join(("-" * (w + 1) + ":") if i in right else
                                       ("-" * (w + 2)) for i, w in enumerate(width)) + "|"]
    lines += [fmt(c) for c in cells]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secs", type=float, default=float(os.environ.get("COMPARE_SECS", "5")),
                    help="seconds per cost measurement (default 5)")
    args = ap.parse_args()
    global TIMEOUT
    TIMEOUT = max(60, int(12 * args.secs))
    for p in (MHOOKD, TARGET, RTT):
        if not os.access(p, os.X_OK):
            die("%s is missing: run `make all targets`" % p)

    with tempfile.TemporaryDirectory(prefix="mhook-compare-") as tmp:
        n = 20000000
        base = min(loop_ns(run(PIN + [TARGET, str(n)]).stdout) for _ in range(REPEAT)) / n
        rows = []
        for name, mech in STRATEGIES:
            try:
                rows.append(measure_strategy(name, mech, base, args.secs, tmp))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                notes.append("%s: failed: %s" % (name, e))
                rows.append(Row("mhookd -s " + name, mech))
        for follow in (False, True):
            try:
                rows.append(measure_ltrace(follow, base, args.secs, tmp))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                notes.append("ltrace: failed: %s" % e)
        try:
            rows.append(measure_uprobe(base, args.secs, tmp))
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            notes.append("uprobe: failed: %s" % e)
        rtt = {}
        for kind, extra in (("int3", []), ("hwbp", ["--hwbp"])):
            n_rtt = calibrate(20000 if kind == "int3" else 40000, args.secs / 2)
            try:
                outs = [run(PIN + [RTT, str(n_rtt)] + extra).stdout for _ in range(REPEAT)]
                rtt[kind] = min(float(re.search(r"rtt_ns=(\d+)", o).group(1)) for o in outs)
            except (RuntimeError, AttributeError) as e:
                notes.append("ptrace_rtt %s: failed: %s" % (" ".join(extra), e))
                continue
            ref = Row("bare ptrace round trip, " + ("int3" if kind == "int3" else "hw breakpoint"),
                      "ptrace_rtt%s: stop, GETREGS, CONT" % (" --hwbp" if extra else ""))
            ref.ns, ref.stops = rtt[kind], "1"
            rows.append(ref)

    print("Hooking strategies compared on bench_target (bench_fn: lea; ret), one run, %s, "
          "%d CPUs" % (os.uname().release, os.cpu_count()))
    print("unhooked call: %.1f ns; ns/hit: pinned to CPU 0, one thread, hooked minus unhooked, "
          "best of %d runs" % (base, REPEAT))
    load = os.getloadavg()[0]
    if load > 0.5:
        print("warning: load average %.1f at the end: other processes competed for the CPUs, "
              "so these figures are higher than on an idle machine and not comparable with "
              "a run on one" % load)
    print()
    print(table(rows))
    print()
    by = {r.name: r for r in rows}
    sw, hw, nx, st = (by.get("mhookd -s " + s) for s in ("swbp", "hwbp", "nx", "step"))
    if sw and sw.ns and rtt.get("int3"):
        print("swbp / bare int3 round trip: %.2f" % (sw.ns / rtt["int3"]))
    if hw and hw.ns and rtt.get("hwbp"):
        print("hwbp / bare hw-breakpoint round trip: %.2f (goal <= 1.2)" % (hw.ns / rtt["hwbp"]))
    if nx and nx.ns and sw and sw.ns:
        print("nx / swbp: %.2f (goal <= 3)" % (nx.ns / sw.ns))
    if st and st.ns and sw and sw.ns:
        print("step / swbp: %.2f (the seed's re-arm against out-of-line execution)"
              % (st.ns / sw.ns))
    for r in rows:
        for seen, exp, what in ((r.seen1, r.exp1, "1 thread"), (r.seen2, r.exp2,
                                                                   "%d threads" % THREADS)):
            if exp and seen != exp:
                print("%s saw %d of %d hits with %s" % (r.name, seen, exp, what))
    for n in notes:
        print("note: " + n)


if __name__ == "__main__":
    main()
