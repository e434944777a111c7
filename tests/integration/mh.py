"""Helpers for the mhookd integration tests: paths, running mhookd in launch and attach
mode, and parsing its reports (JSON lines as docs/protocol.md has them, and the text form).

Every wait here has a timeout, so a hung mhookd or target fails the test instead of
stalling it; pytest-timeout (pytest.ini) is the last resort."""

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MHOOKD = os.environ.get("MHOOKD", os.path.join(REPO, "build", "mhookd"))
TARGETS = os.path.join(REPO, "build", "targets")
PYTHON = "/usr/bin/python3"

HEX = re.compile(r"^0x[0-9a-f]+$")
WAIT = 30  # seconds: the longest any single step may take

# Every strategy that the integration tests run (conftest.py's
# `strategy` fixture). One that this mhookd does not know yet makes its tests skip.
STRATEGIES = ["swbp", "hwbp", "nx", "step"]
HWBP_SLOTS = 4  # x86 DR0-DR3


def target(name):
    return os.path.join(TARGETS, name)


def run(cmd, timeout=WAIT, **kw):
    """Runs cmd to completion and returns the CompletedProcess (text mode)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(cmd, timeout=timeout, text=True, **kw)


def mhookd(args, timeout=WAIT, **kw):
    return run([MHOOKD] + list(args), timeout=timeout, **kw)


_unavailable = {}


def strategy_unavailable(name):
    """None when this mhookd knows strategy `name`, otherwise why not (a skip reason).
    Asked once per session by hooking one call of the counter target: --help exits 0 for
    any -s, and only "unknown strategy" means "not written yet" (any other failure is a
    failure of the tests that use the strategy, not a skip)."""
    if name not in _unavailable:
        r = mhookd(["-s", name, "-c", "-o", os.devnull, "-f", "counter_exe_fn", "--",
                    target("counter"), "1", "1"])
        why = None
        if r.returncode == 1 and "unknown strategy" in r.stderr:
            why = "mhookd has no strategy %r yet: %s" % (name, r.stderr.strip())
        _unavailable[name] = why
    return _unavailable[name]


def chunks(items, n):
    """items in consecutive groups of at most n (hwbp hooks at most HWBP_SLOTS at once)."""
    return [items[i:i + n] for i in range(0, len(items), n)]


def max_hooks(strategy):
    """How many functions one mhookd may hook at once with this strategy."""
    return HWBP_SLOTS if strategy == "hwbp" else 1 << 30


def parse_json_lines(text):
    """Every non-empty line must be one JSON object with an "event" field."""
    events = []
    for line in text.splitlines():
        if not line.strip():
            continue
        ev = json.loads(line)
        assert isinstance(ev, dict) and "event" in ev, line
        events.append(ev)
    return events


def read_events(path):
    with open(path) as f:
        return parse_json_lines(f.read())


def of(events, kind):
    return [e for e in events if e["event"] == kind]


def summaries(events):
    """{func: summary event}; each hooked function has exactly one summary."""
    out = {}
    for e in of(events, "summary"):
        assert e["func"] not in out, "two summaries for %s" % e["func"]
        out[e["func"]] = e
    return out


def counts(events):
    return {f: s["calls"] for f, s in summaries(events).items()}


def assert_error_line(stderr):
    """An error is ONE line on stderr that starts with `mhookd: `."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, "expected one error line, got: %r" % stderr
    assert lines[0].startswith("mhookd: "), stderr
    return lines[0]


class Procs:
    """Tracks processes started by a test and kills whatever is left at teardown
    (targets after mhookd, so a killed mhookd cannot leave breakpoints that then fire)."""

    def __init__(self):
        self.procs = []

    def popen(self, cmd, **kw):
        kw.setdefault("stdin", subprocess.PIPE)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(cmd, text=True, bufsize=1, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdin, p.stdout, p.stderr):
                if f:
                    try:
                        f.close()
                    except OSError:
                        pass


def _pump(stream, q):
    for line in stream:
        q.put(line)
    q.put(None)


def readline(p, timeout=WAIT):
    """Reads one line of p's stdout (p from Procs.popen), failing after timeout seconds. A
    thread reads the pipe, so no line can sit unseen in a buffer."""
    if not hasattr(p, "lines"):
        p.lines = queue.Queue()
        threading.Thread(target=_pump, args=(p.stdout, p.lines), daemon=True).start()
    try:
        line = p.lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("timed out waiting for a line from %r" % (p.args,))
    assert line is not None, "EOF from %r (exit %r)" % (p.args, p.poll())
    return line.rstrip("\n")


def send_line(p):
    p.stdin.write("\n")
    p.stdin.flush()


def wait_for_file_event(path, kind, proc, timeout=WAIT, func=None):
    """Polls the report file for the first complete line with event == kind (and, given
    func, "func" == func); fails early if proc (mhookd) exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                data = f.read()
            for line in data.splitlines(True):
                if line.endswith("\n"):
                    ev = json.loads(line)
                    if ev.get("event") == kind and func in (None, ev.get("func")):
                        return ev
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError("mhookd exited %d before %s: %s" % (proc.returncode, kind, err))
        time.sleep(0.01)
    raise AssertionError("no %s event within %ds" % (kind, timeout))


def wait_for_text(path, pattern, proc, timeout=WAIT):
    rx = re.compile(pattern, re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                m = rx.search(f.read())
            if m:
                return m
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError("mhookd exited %d before %r: %s" % (proc.returncode, pattern, err))
        time.sleep(0.01)
    raise AssertionError("no %r within %ds" % (pattern, timeout))


def wait(p, timeout=WAIT):
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("%r did not exit within %ds" % (p.args, timeout))


def interrupt(p, sig=signal.SIGINT, timeout=WAIT):
    p.send_signal(sig)
    return wait(p, timeout)


class Attached:
    """A target started with --wait (it prints `ready PID` and waits for a line), with
    mhookd attached to it (-p) writing JSON or text reports to out_path."""

    def __init__(self, procs, cmd, mhookd_args, out_path, json_mode=True):
        self.t = procs.popen(cmd)
        line = readline(self.t)
        assert line.startswith("ready "), line
        self.pid = int(line.split()[1])
        assert self.pid == self.t.pid
        self.out = out_path
        self.m = procs.popen([MHOOKD, "-p", str(self.pid), "-o", out_path] +
                             (["--json"] if json_mode else []) + list(mhookd_args),
                             stdin=subprocess.DEVNULL)
        if json_mode:
            self.ready = wait_for_file_event(out_path, "ready", self.m)
        else:
            self.ready = wait_for_text(out_path, r"^ready: .*$", self.m).group(0)

    def go(self):
        send_line(self.t)


def exec_maps(pid):
    """The executable mappings of pid, {(start, end, path): bytes}, read via /proc/PID/mem."""
    out = {}
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for line in maps:
            parts = line.split(None, 5)
            if "x" not in parts[1] or line.endswith("[vsyscall]"):
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            path = parts[5] if len(parts) > 5 else ""
            mem.seek(start)
            out[(start, end, path)] = mem.read(end - start)
    return out


def symbol_value(path, name):
    """(st_value, st_size) of a defined function symbol, from nm."""
    r = run(["nm", "-S", "--defined-only", path])
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[3] == name:
            return int(f[0], 16), int(f[1], 16)
    raise AssertionError("%s not in %s" % (name, path))


def load_base(pid, path_suffix):
    """The start of the offset-0 mapping of the object whose path ends with path_suffix."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].rstrip("\n").endswith(path_suffix) \
                    and int(parts[2], 16) == 0:
                return int(parts[0].split("-")[0], 16)
    raise AssertionError("%s not mapped in %d" % (path_suffix, pid))


def check_call_event(ev, pid=None):
    assert set(["pid", "tid", "func", "addr", "ts_ns", "args"]) <= set(ev), ev
    assert isinstance(ev["pid"], int) and isinstance(ev["tid"], int), ev
    assert isinstance(ev["ts_ns"], int) and 0 < ev["ts_ns"] < 2 ** 53, ev
    assert HEX.match(ev["addr"]), ev
    assert isinstance(ev["args"], list) and len(ev["args"]) == 6, ev
    for a in ev["args"]:
        assert isinstance(a, str) and HEX.match(a), ev
    if pid is not None:
        assert ev["pid"] == pid, ev


def maps(pid):
    """Every mapping of pid as a list of (start, end, perms, path). A file replaced on disk
    meanwhile (a rebuild of the targets during the test) keeps its path, without the
    kernel's " (deleted)"."""
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.rstrip("\n").split(None, 5)
            start, end = (int(x, 16) for x in parts[0].split("-"))
            path = parts[5] if len(parts) > 5 else ""
            if path.endswith(" (deleted)"):
                path = path[:-len(" (deleted)")]
            out.append((start, end, parts[1], path))
    return out


def assert_perms_restored(before, pid):
    """Every file-backed range mapped before (maps() of pid taken before the attach) is
    mapped again by the same file with the same permissions. A strategy that mprotects
    code (nx) must put the protections back. The kernel may leave a range split into
    several mappings after mprotect and back; only what each address has counts.
    Anonymous mappings are left out: the target's own heap and thread stacks change."""
    after = maps(pid)
    for start, end, perms, path in before:
        if not path.startswith("/"):
            continue
        covered = start
        for s, e, p, pth in sorted(after):
            if e <= start or s >= end:
                continue
            assert (p, pth) == (perms, path), \
                "%#x-%#x %s %s is %#x-%#x %s %s after detach" % (start, end, perms, path,
                                                                 s, e, p, pth)
            if s <= covered:
                covered = max(covered, e)
        assert covered >= end, "%#x-%#x %s not mapped after detach" % (start, end, path)


def assert_code_restored(before, pid):
    """Each executable range of `before` (exec_maps() taken before the attach) still holds
    the same bytes. Compared by address range, not by mapping, so that a mapping split
    by mprotect and back still compares."""
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for (start, end, path), data in before.items():
            mem.seek(start)
            try:
                now = mem.read(end - start)
            except OSError as e:
                raise AssertionError("mapping %#x-%#x %s gone after detach: %s"
                                     % (start, end, path, e))
            assert len(now) == len(data), "mapping %#x-%#x %s shrank" % (start, end, path)
            if now != data:
                diff = next(i for i in range(len(data)) if now[i] != data[i])
                raise AssertionError("%s differs at +%#x after detach" % (path, diff))


def snapshot(pid):
    """What a detach must give back: the code bytes and the permissions of every mapping."""
    return exec_maps(pid), maps(pid)


def assert_restored(snap, pid):
    """Code byte-identical and protections as before (see snapshot())."""
    code, mapping = snap
    assert_code_restored(code, pid)
    assert_perms_restored(mapping, pid)
