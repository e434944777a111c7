#!/usr/bin/python3
"""`make bench`, second part: what mhookd's socket clients cost a hooked call, in one run,
unpinned (as users run it) and pinned to one CPU.

- ptrace round trip: build/tools/ptrace_rtt N (as tools/bench.py measures it).
- swbp per call: build/targets/bench_target N --wait prints `ready PID` and waits for a line
  on stdin; a daemon `mhookd --listen SOCK` serves, one client hooks bench_fn in PID
  (c.hook(pid, "bench_fn")) and never subscribes, and then the gate line starts the timed
  loop. Hooked minus unhooked loop_ns, over N. Rows by who else is connected:
    0 subscribed     the hooking client alone;
    1 subscribed     one more client, subscribed to the calls of PID;
    16 subscribed    sixteen such clients, four to a reader process;
    1 stuck + 1      one reading client and one subscribed that never reads (its queue
                     is mhookd's default 4 MiB: it fills, and the rest is lost for it).
  Readers count call lines in the bytes received (recv_into one buffer, bytes.count: no
  parsing, no copy), pause 1 ms after each batch, and report their CPU time, so that their
  reading is not the bottleneck. Each must receive exactly N call events, and mhookd's stats
  must say it delivered N to it and lost none: the run dies otherwise. A fresh mhookd per
  run, so that each RSS figure is that run's.
- events/s: per reading client, N over the time from the gate line to its last call event.
  With 16 clients, the slowest one's rate, and 16 times that in all.
- mhookd's RSS: VmRSS and VmHWM (peak) from /proc/PID/status, idle and after the runs
  (the stuck client still connected and its queue full).
- pinned: this process and everything it starts on CPU 0 (sched_setaffinity, inherited like
  `taskset -c 0`): mhookd, the target, the readers, ptrace_rtt.

Goals: 16 subscribed clients add at most 10% per call (next to 0 subscribed); a stuck client
adds nothing (1 stuck + 1 next to 1 subscribed). ±P% after a figure is half the spread
(max-min) of its 3 runs, as a share of their median: compare figures only when their
difference is well beyond it.

If some event stays unwritten after the target has exited (a reader still waits GRACE
seconds later), the run says so, wakes mhookd's server thread with a `stats` request from
the hooking client, and rates the events/s of that run over the events received before.

N is calibrated so that each figure's 3 runs take about BENCH_SECS (default 5) seconds in
all, as in tools/bench.py; the whole run is about a minute and a half.
Usage: tools/bench_server.py [--secs S] [--no-pinned]; MHOOKD=path selects the mhookd binary."""

import argparse
import multiprocessing
import multiprocessing.connection
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools", "python"))
import mhook  # noqa: E402  (tools/python, no install step)

MHOOKD = os.environ.get("MHOOKD", os.path.join(REPO, "build", "mhookd"))
TARGET = os.path.join(REPO, "build", "targets", "bench_target")
RTT = os.path.join(REPO, "build", "tools", "ptrace_rtt")
REPEAT = 3
PER_READER = 4          # clients per reader process
READ_PAUSE = 0.001      # a reader's pause after each batch: bounds its wake-ups
GRACE = 0.5             # seconds after the target's exit before a missing event is a stall
CALL = b'{"event":"call"'

# Scenario: (label, reading clients, stuck clients)
SCENARIOS = [("0 subscribed", 0, 0), ("1 subscribed", 1, 0), ("16 subscribed", 16, 0),
             ("1 stuck + 1 reading", 1, 1)]


class Died(Exception):
    pass


def die(msg):
    raise Died(msg)


# tools/bench.py's: its failures exit (SystemExit), which the cleanup below survives too.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import field, run  # noqa: E402


def rtt_ns(n):
    return float(field(run([RTT, str(n)]).stdout, "rtt_ns"))


def unhooked_ns_per_call():
    n = 20000000
    return statistics.median(field(run([TARGET, str(n)]).stdout, "loop_ns") / n
                             for _ in range(REPEAT))


def proc_status(pid):
    """VmRSS and VmHWM of pid, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        text = f.read()
    return tuple(int(re.search(r"^%s:\s+(\d+) kB" % k, text, re.M).group(1))
                 for k in ("VmRSS", "VmHWM"))


def proc_cpu_s(pid):
    """utime + stime of pid (every thread), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


# ---- readers (child processes) --------------------------------------------------------

class Reading:
    """One subscribed client, read raw: its call lines are counted in the bytes as they come
    (CALL starts every call line and nothing else), without splitting lines or copying."""

    def __init__(self, c):
        self.client = c.hello["client"]
        self.sock = c._sock  # taken over from the client once subscribed (see reader_main)
        c._sock = None       # so that the Client object never closes it under us
        self.calls = sum(1 for ev in c._events if ev.get("event") == "call")
        self.prev = b""      # the stream's last len(CALL)-1 bytes: a line start cut in two
        self.eof = False
        self.timeline = []   # (monotonic time of a recv, call events received so far)
        if c._buf:
            self.feed(bytes(c._buf), len(c._buf), time.monotonic())

    def feed(self, buf, n, now):
        """Counts the calls in buf[:n], just received."""
        if n == 0:
            self.eof = True
            return
        cut = len(CALL) - 1
        k = buf.count(CALL, 0, n) + (self.prev + bytes(buf[:min(n, cut)])).count(CALL)
        self.prev = bytes(buf[n - cut:n]) if n >= cut else (self.prev + bytes(buf[:n]))[-cut:]
        if k:
            self.calls += k
            self.timeline.append((now, self.calls))

    def result(self):
        return {"client": self.client, "calls": self.calls, "eof": self.eof,
                "timeline": self.timeline}


def reader_main(path, pid, nclients, n, conn):
    """Connects nclients, subscribes each to pid's calls, says "ready", reads until each one
    has n calls or its connection ends (or the parent says "stop"), then sends its results
    and its CPU time, and stays connected until the parent says "quit"."""
    try:
        readings = []
        for _ in range(nclients):
            c = mhook.connect(path)
            c.subscribe(pids=[pid], kinds=["call"])
            readings.append(Reading(c))
        sel = selectors.DefaultSelector()
        for r in readings:
            r.sock.setblocking(False)
            sel.register(r.sock, selectors.EVENT_READ, r)
        sel.register(conn, selectors.EVENT_READ, None)
        conn.send(("ready", [r.client for r in readings]))
        buf = bytearray(1 << 18)
        cpu0 = sum(os.times()[:2])
        left = len(readings)
        stop = False
        while left and not stop:
            for key, _ in sel.select():
                r = key.data
                if r is None:
                    conn.recv()  # "stop", or "quit" from a parent that gives up
                    stop = True
                    continue
                while r.calls < n and not r.eof:
                    try:
                        got = r.sock.recv_into(buf)
                    except BlockingIOError:
                        break
                    except ConnectionResetError:
                        got = 0
                    r.feed(buf, got, time.monotonic())
                    if got < len(buf):
                        break
                if r.calls >= n or r.eof:
                    sel.unregister(r.sock)
                    left -= 1
            time.sleep(READ_PAUSE)
        cpu = sum(os.times()[:2]) - cpu0
        conn.send(("done", [r.result() for r in readings], cpu))
        # Stay connected until told: a reader that disconnected early would change
        # what mhookd does for the others.
        while conn.recv() != "quit":
            pass
    except EOFError:
        pass
    except BaseException as e:  # the parent dies loudly with it
        try:
            conn.send(("error", "%s: %s" % (type(e).__name__, e)))
        except OSError:
            pass


# ---- one run -----------------------------------------------------------------------------

class Run:
    """One mhookd, one target, its clients; close() ends whatever is left of them."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.path = os.path.join(tmp, "mhookd.sock")
        self.daemon = None
        self.target = None
        self.readers = []   # (Process, Connection)
        self.clients = []   # mhook.Client in this process
        self.log = None

    def start_daemon(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.log = open(os.path.join(self.tmp, "mhookd.log"), "w+")
        self.daemon = subprocess.Popen([MHOOKD, "--listen", self.path], stdin=subprocess.DEVNULL,
                                       stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while True:
            if self.daemon.poll() is not None:
                die("mhookd exited %d at start: %s" % (self.daemon.returncode, self.daemon_log()))
            if os.path.exists(self.path):
                try:
                    c = mhook.connect(self.path)
                    self.clients.append(c)
                    return c
                except (ConnectionRefusedError, FileNotFoundError):
                    pass
            if time.monotonic() > deadline:
                die("mhookd did not listen on %s in 10 s" % self.path)
            time.sleep(0.005)

    def daemon_log(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-1000:].strip()

    def start_target(self, n):
        self.target = subprocess.Popen([TARGET, str(n), "--wait"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)
        line = self.target.stdout.readline()
        m = re.match(r"ready (\d+)$", line.strip())
        if not m:
            die("bench_target --wait said %r, not `ready PID`" % line)
        return int(m.group(1))

    def start_readers(self, pid, nclients, n):
        ctx = multiprocessing.get_context("fork")
        while nclients > 0:
            k = min(PER_READER, nclients)
            nclients -= k
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=reader_main, args=(self.path, pid, k, n, theirs), daemon=True)
            p.start()
            theirs.close()
            self.readers.append((p, mine))
        for p, conn in self.readers:
            msg = self.recv(conn, 20)
            if msg[0] != "ready":
                die("a reader did not start: %r" % (msg,))

    def recv(self, conn, timeout):
        if not conn.poll(timeout):
            die("a reader said nothing in %g s" % timeout)
        try:
            msg = conn.recv()
        except EOFError:
            die("a reader died")
        if msg[0] == "error":
            die("a reader failed: %s" % msg[1])
        return msg

    def close(self):
        for c in self.clients:
            c.close()
        self.clients = []
        for p, conn in self.readers:
            try:
                conn.send("quit")
            except OSError:
                pass
            conn.close()  # end of file for a reader that is not listening for "quit"
        for p, conn in self.readers:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
        self.readers = []
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
                print("bench_server: mhookd did not end within 10 s of SIGTERM: killed",
                      file=sys.stderr)
        if self.target:
            if self.target.poll() is None:
                self.target.kill()
            self.target.wait()
            for f in (self.target.stdin, self.target.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        if self.log:
            self.log.close()
        self.daemon = self.target = self.log = None


def hooked_run(tmp, n, nreading, nstuck):
    """One run of the scenario; returns its figures."""
    r = Run(tmp)
    try:
        hooker = r.start_daemon()
        idle_rss = proc_status(r.daemon.pid)
        pid = r.start_target(n)
        r.start_readers(pid, nreading, n)
        hooker.hook(pid, "bench_fn")
        stuck = []
        for _ in range(nstuck):
            c = mhook.connect(r.path)
            c.subscribe(pids=[pid], kinds=["call"])
            r.clients.append(c)
            stuck.append(c.hello["client"])
        cpu0 = proc_cpu_s(r.daemon.pid)
        gate = time.monotonic()
        r.target.stdin.write("go\n")
        r.target.stdin.close()
        out = r.target.stdout.read()
        if r.target.wait() != 0:
            die("bench_target exited %d" % r.target.returncode)
        exited = time.monotonic()
        loop_ns = field(out, "loop_ns")

        # The readers' results: each ends when every client of its has N calls.
        results, reader_cpu, poked, released_ms = [], 0.0, None, None
        waiting = [conn for _, conn in r.readers]
        while waiting:
            ready = multiprocessing.connection.wait(waiting, 0.05)
            for conn in ready:
                msg = r.recv(conn, 1)
                results += msg[1]
                reader_cpu += msg[2]
                waiting.remove(conn)
            now = time.monotonic()
            if waiting and poked is None and now > exited + GRACE:
                poked = now
                hooker.stats()  # any request wakes mhookd's server thread
            elif waiting and poked is not None and now > poked + 10:
                for conn in waiting:
                    conn.send("stop")
                for conn in waiting:
                    msg = r.recv(conn, 5)
                    results += msg[1]
                waiting = []
        if poked is not None:
            released_ms = (max([t for res in results for t, _ in res["timeline"][-1:]],
                               default=poked) - poked) * 1e3
        cpu = proc_cpu_s(r.daemon.pid) - cpu0
        stats = hooker.stats()
        rss = proc_status(r.daemon.pid)

        byid = {c["client"]: c for c in stats["clients"]}
        for res in results:
            c = byid.get(res["client"], {})
            if res["calls"] != n or c.get("delivered") != n or c.get("lost") != 0:
                die("reading client %d got %d call events of %d (mhookd: delivered %s, lost %s, "
                    "queued %s)%s; mhookd's log: %s"
                    % (res["client"], res["calls"], n, c.get("delivered"), c.get("lost"),
                       c.get("queued"), ", then end of file" if res["eof"] else "",
                       r.daemon_log()))
        stuck_stats = [c for c in stats["clients"] if c["client"] in stuck]
        # events/s: over the events received before a poke (all of them when none was needed)
        rates, held = [], 0
        for res in results:
            before = [(t, k) for t, k in res["timeline"] if poked is None or t < poked]
            if not before:
                rates.append(0.0)
                held = max(held, n)
                continue
            t, k = before[-1]
            rates.append(k / (t - gate))
            held = max(held, n - k)
        return {"ns": loop_ns / n, "rates": rates, "cpu": cpu, "reader_cpu": reader_cpu,
                "wall": exited - gate, "idle_rss": idle_rss, "rss": rss, "stuck": stuck_stats,
                "poked": poked is not None, "held": held, "released_ms": released_ms}
    finally:
        r.close()


def calibrate(fn, secs, n=10000):
    """N such that fn(N) takes about secs seconds, from the median of 3 probes of n calls:
    unpinned, one probe in 3 may land in the slow mode (see the note the report prints)."""
    per = med([fn(n) for _ in range(REPEAT)])
    return max(n, int(secs * 1e9 / max(per, 1.0)))


def measure(tmp, secs, pin, base):
    """Every figure of one CPU setting: {label: [run, ...]}, N for the hooked runs and the trips."""
    n_hook = calibrate(lambda n: hooked_run(tmp, n, 1, 0)["ns"], secs / REPEAT)
    n_rtt = calibrate(rtt_ns, secs / REPEAT)
    figures = {"trip": []}
    for _ in range(REPEAT):
        figures["trip"].append(rtt_ns(n_rtt))
        for label, nreading, nstuck in SCENARIOS:
            res = hooked_run(tmp, n_hook, nreading, nstuck)
            res["ns"] -= base
            figures.setdefault(label, []).append(res)
    return figures, n_hook, n_rtt


# ---- the table ------------------------------------------------------------------------

def med(xs):
    return statistics.median(xs)


def spread(xs):
    m = med(xs)
    return (max(xs) - min(xs)) / 2 / m * 100 if m else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secs", type=float, default=float(os.environ.get("BENCH_SECS", "5")),
                    help="seconds per figure, its 3 runs together (default 5)")
    ap.add_argument("--no-pinned", action="store_true", help="unpinned figures only")
    args = ap.parse_args()
    for p in (MHOOKD, TARGET, RTT):
        if not os.access(p, os.X_OK):
            die("%s is missing: run `make all targets`" % p)

    started = time.monotonic()
    load = open("/proc/loadavg").read().split()[0]
    tmp = tempfile.mkdtemp(prefix="bench_server.")
    mask = os.sched_getaffinity(0)
    try:
        base = unhooked_ns_per_call()
        settings = [False] + ([] if args.no_pinned else [True])
        got = {}
        for pin in settings:
            os.sched_setaffinity(0, {0} if pin else mask)
            try:
                got[pin] = measure(tmp, args.secs, pin, base)
            finally:
                os.sched_setaffinity(0, mask)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(got, settings, base, load, time.monotonic() - started)


def report(got, cols, base, load, took):
    names = {False: "unpinned", True: "pinned (cpu 0)"}
    lines = []  # (label, cells) or a str

    def row(label, cells):
        lines.append((label, cells))

    runs = {p: got[p][0] for p in cols}
    trip = {p: med(runs[p]["trip"]) for p in cols}
    ns = {p: {label: [r["ns"] for r in runs[p][label]] for label, _, _ in SCENARIOS}
          for p in cols}

    row("", [names[p] for p in cols])
    row("ptrace stop+GETREGS+CONT (ns)",
        ["%.0f ±%.0f%%" % (trip[p], spread(runs[p]["trip"])) for p in cols])
    for label, _, _ in SCENARIOS:
        row("swbp, %s (ns)" % label,
            ["%.0f ±%.0f%%" % (med(ns[p][label]), spread(ns[p][label])) for p in cols])
    for label, _, _ in SCENARIOS:
        row("  ratio to the trip, %s" % label,
            ["%.2f" % (med(ns[p][label]) / trip[p]) for p in cols])

    def vs(a, b):
        return {p: (med(ns[p][a]) / med(ns[p][b]) - 1) * 100 for p in cols}

    pairs = [("16 subscribed", "0 subscribed"), ("16 subscribed", "1 subscribed"),
             ("1 subscribed", "0 subscribed"), ("1 stuck + 1 reading", "1 subscribed")]
    for a, b in pairs:
        d = vs(a, b)
        row("%s vs %s" % (a, b), ["%+.1f%%" % d[p] for p in cols])
    lines.append("")

    def rate(label):
        return {p: med([min(r["rates"]) for r in runs[p][label]]) for p in cols}

    one, each = rate("1 subscribed"), rate("16 subscribed")
    row("events/s to 1 client", ["%.0f" % one[p] for p in cols])
    row("events/s to each of 16 (the slowest)", ["%.0f" % each[p] for p in cols])
    row("events/s to 16 clients in all", ["%.0f" % (16 * each[p]) for p in cols])
    row("hooked calls/s of the target, 1 subscribed",
        ["%.0f" % med([1e9 / (r["ns"] + base) for r in runs[p]["1 subscribed"]]) for p in cols])
    lines.append("")
    for label, _, _ in SCENARIOS:
        row("mhookd CPU per call, %s (ns)" % label,
            ["%.0f" % med([r["cpu"] * 1e9 / got[p][1] for r in runs[p][label]]) for p in cols])
    for label, nreading, _ in SCENARIOS:
        if nreading:
            row("readers' CPU, share of the run, %s" % label,
                ["%.1f%%" % med([100 * r["reader_cpu"] / r["wall"] for r in runs[p][label]])
                 for p in cols])
    lines.append("")

    def mib(kb):
        return "%.1f" % (kb / 1024)

    row("mhookd VmRSS idle, at start (MiB)",
        [mib(med([r["idle_rss"][0] for r in runs[p]["0 subscribed"]])) for p in cols])
    for label in ("1 subscribed", "16 subscribed", "1 stuck + 1 reading"):
        row("mhookd VmRSS / VmHWM after %s (MiB)" % label,
            ["%s / %s" % (mib(med([r["rss"][0] for r in runs[p][label]])),
                          mib(med([r["rss"][1] for r in runs[p][label]]))) for p in cols])
    st = {p: (runs[p]["1 stuck + 1 reading"][-1]["stuck"] or [None])[0] for p in cols}
    row("stuck client: delivered / lost (events)",
        ["%d / %d" % (st[p]["delivered"], st[p]["lost"]) if st[p] else "-" for p in cols])
    row("stuck client: queued (bytes)", ["%d" % st[p]["queued"] if st[p] else "-" for p in cols])
    row("hooked calls per run (N)", ["%d" % got[p][1] for p in cols])
    row("round trips per run", ["%d" % got[p][2] for p in cols])

    w = max(len(x[0]) for x in lines if isinstance(x, tuple)) + 2
    cw = max(16, max(len(c) for x in lines if isinstance(x, tuple) for c in x[1]) + 2)
    print("mhookd --listen: swbp per call with socket clients (%s, %d CPUs, load %s at start)"
          % (os.uname().release, os.cpu_count(), load))
    print("unhooked call: %.1f ns" % base)
    print()
    for x in lines:
        print(x if isinstance(x, str)
              else "%-*s" % (w, x[0]) + "".join("%*s" % (cw, c) for c in x[1]))
    print()
    d16 = vs("16 subscribed", "0 subscribed")
    dst = vs("1 stuck + 1 reading", "1 subscribed")
    noise = {p: max(spread(ns[p]["1 stuck + 1 reading"]), spread(ns[p]["1 subscribed"]))
             for p in cols}
    print("goal: 16 subscribed clients add at most 10% per call, next to 0 subscribed:")
    print("      " + "; ".join("%s %+.0f%%: %s" % (names[p], d16[p],
                                                   "met" if d16[p] <= 10 else "MISSED")
                               for p in cols))
    print("goal: a stuck client adds nothing, next to 1 subscribed (± the larger spread):")
    print("      " + "; ".join("%s %+.1f%% ±%.0f%%: %s" % (names[p], dst[p], noise[p],
                                                        "within the noise"
                                                        if abs(dst[p]) <= noise[p]
                                                        else "MISSED, beyond the noise")
                               for p in cols))
    if False in cols and max(spread(v) for v in ns[False].values()) > 30:
        print("(unpinned: a wide spread is the scheduler putting mhookd's tracer and the target")
        print("on different CPUs in some runs, where each stop costs a cross-CPU wake-up)")
    for p in cols:
        s = st[p]
        if s and s["delivered"] + s["lost"] != got[p][1]:
            print("NOTE: %s, the stuck client's delivered + lost is %d, not N = %d"
                  % (names[p], s["delivered"] + s["lost"], got[p][1]))
    stalls = {p: [(label, r["held"]) for label, _, _ in SCENARIOS for r in runs[p][label]
                  if r["poked"]] for p in cols}
    if any(stalls.values()):
        nruns = sum(len(runs[p][label]) for p in cols for label, k, _ in SCENARIOS if k)
        nstall = sum(len(v) for v in stalls.values())
        released = max(r["released_ms"] for p in cols for label, _, _ in SCENARIOS
                       for r in runs[p][label] if r["poked"])
        print()
        print("STALL in %d of %d runs with readers: %.1f s after the target had exited, some"
              % (nstall, nruns, GRACE))
        print("client still waited for call events that mhookd had not written; a `stats`")
        print("request from the hooking client released them (the last %.0f ms after it)."
              % released)
        print("Those runs' events/s count the events received before that request. Call events")
        print("held back, per stalled run:")
        for p in cols:
            if stalls[p]:
                by = {}
                for label, held in stalls[p]:
                    by.setdefault(label, []).append(str(held))
                print("  %s: %s" % (names[p], "; ".join("%s %s" % (label, ", ".join(v))
                                                        for label, v in by.items())))
    print("(%.0f s)" % took)


def on_term(signum, frame):
    raise SystemExit("bench_server: killed by signal %d" % signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_term)
    try:
        main()
    except Died as e:
        sys.exit("bench_server: %s" % e)
    except KeyboardInterrupt:
        sys.exit("bench_server: interrupted")
