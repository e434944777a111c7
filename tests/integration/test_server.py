"""The socket server (docs/protocol.md, "The socket: mhookd's clients"): `mhookd --listen`
as a daemon and next to -p/-- CMD, driven by the Python client (tools/python/mhook).

Every test starts its own mhookd on a fresh socket under tmp_path and the counter target
(tests/targets/counter.c: thread t calls counter_exe_fn and counter_lib_fn ITERS times
each, with the argument t*1000000 + i), so the exact number of calls per thread and every
argument are known. After a detach (by disconnect, by the detach op, by SIGTERM) the
target's code must be byte-identical to a snapshot taken before the attach, it must not be
traced any more, and it must go on working (its second round, --linger, prints the right
total)."""

import collections
import fnmatch
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import mh
from test_counter import EXE_FN, LIB_FN, counter, total
from test_errors import free_pid

sys.path.insert(0, os.path.join(mh.REPO, "tools", "python"))
import mhook  # noqa: E402

MAX_LINE = 65536  # the longest request line the server takes
QUIET = 0.5       # seconds of silence after which a stream is taken to have nothing more


# ---- running mhookd --listen ------------------------------------------------------------

class Daemon:
    """`mhookd --listen PATH ARGS...`, its stderr in a file (a pipe nobody reads could
    fill up and stall it). Started when the socket accepts connections."""

    def __init__(self, procs, tmp_path, args=(), path=None, name="mhookd", **kw):
        self.path = path or sock_path(tmp_path)
        self.err_path = str(tmp_path / (name + ".err"))
        self._err = open(self.err_path, "w")
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.DEVNULL)
        self.p = procs.popen([mh.MHOOKD, "--listen", self.path] + [str(a) for a in args],
                             stderr=self._err, **kw)
        self._err.close()
        wait_socket(self.path, self.p)
        self.poke = Poker(self.path)

    @property
    def pid(self):
        return self.p.pid

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def connect(self, timeout=mh.WAIT):
        c = mhook.connect(self.path, timeout=timeout)
        assert c.hello["pid"] == self.pid, c.hello
        return c

    def stop(self, sig=signal.SIGTERM):
        """Stops mhookd with sig; returns its exit status."""
        return mh.interrupt(self.p, sig)


class Poker:
    """Calling it sends a request (stats) on a connection of its own, which makes mhookd
    write whatever it has queued for its clients. Tests that wait for events pass it to
    read_until, so that a lost flush (test_events_written_after_target_exit tests that
    there is none) fails that test alone, not every test that waits for events."""

    def __init__(self, path):
        self.path, self.c = path, None

    def __call__(self):
        if self.c is None:
            self.c = mhook.connect(self.path)
        self.c.stats()


def sock_path(tmp_path, name="mh.sock"):
    path = str(tmp_path / name)
    assert len(path.encode()) < 108, "socket path too long: %s" % path
    return path


def wait_socket(path, proc, timeout=mh.WAIT):
    """Waits until a client can connect to path (the socket exists and listens); fails if
    proc (mhookd) exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("mhookd exited %d before listening on %s"
                                 % (proc.returncode, path))
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(path)
                    return
                except (ConnectionRefusedError, FileNotFoundError):
                    pass
                finally:
                    s.close()
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    raise AssertionError("nothing listens on %s after %ds" % (path, timeout))


# ---- targets -------------------------------------------------------------------------------

class Target:
    """counter ... --wait: started, `ready PID` read, its code snapshot taken."""

    def __init__(self, procs, threads, iters, *more, prefix=()):
        self.threads, self.iters = threads, iters
        self.t = procs.popen(list(prefix) + counter(threads, iters, "--wait", *more))
        line = mh.readline(self.t)
        assert line == "ready %d" % self.t.pid, line
        self.pid = self.t.pid
        self.snap = mh.snapshot(self.pid)

    def go(self):
        mh.send_line(self.t)

    def line(self, timeout=mh.WAIT):
        return mh.readline(self.t, timeout)

    def expect_round(self, timeout=mh.WAIT):
        assert self.line(timeout) == "total=%d" % total(self.threads, self.iters)

    def assert_left_alone(self):
        """Detached: not traced, code byte-identical, protections as before."""
        wait_untraced(self.pid)
        assert self.t.poll() is None, "target died"
        mh.assert_restored(self.snap, self.pid)


def tracer_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    raise AssertionError("no TracerPid for %d" % pid)


def wait_untraced(pid, timeout=mh.WAIT):
    deadline = time.monotonic() + timeout
    while tracer_of(pid) != 0:
        assert time.monotonic() < deadline, "pid %d still traced by %d" % (pid, tracer_of(pid))
        time.sleep(0.01)


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def exe_addr(pid):
    """Where counter_exe_fn is in pid, from nm and /proc/PID/maps."""
    value, _ = mh.symbol_value(mh.target("counter"), EXE_FN)
    return "0x%x" % (mh.load_base(pid, "/counter") + value)


def lib_addr(pid):
    value, _ = mh.symbol_value(mh.target("libcounter.so"), LIB_FN)
    return "0x%x" % (mh.load_base(pid, "/libcounter.so") + value)


# ---- reading events ------------------------------------------------------------------------

def read_until(c, done, timeout=mh.WAIT, quiet=QUIET, poke=None):
    """Events from c until done(events) holds (checked after each event), then whatever
    else comes before `quiet` seconds of silence (so that a stream with one event too many
    is seen to have it). Stops early at bye or EOF. Fails after timeout. poke: called
    whenever 0.2 s pass without an event (a Poker)."""
    events = []
    deadline = time.monotonic() + timeout
    while not done(events):
        left = deadline - time.monotonic()
        assert left > 0, "timed out after %d events: %r" % (len(events), events[-3:])
        try:
            for ev in c.events(timeout=min(left, 0.2 if poke else 1.0)):
                events.append(ev)
                if done(events) or ev["event"] == "bye":
                    break
            else:
                return events  # EOF
        except TimeoutError:
            if poke:
                poke()
            continue
        if events and events[-1]["event"] == "bye":
            return events
    return events + read_quiet(c, quiet)


def read_quiet(c, quiet=QUIET):
    """Every event until quiet seconds pass without one (or bye, or EOF)."""
    events = []
    try:
        for ev in c.events(timeout=quiet):
            events.append(ev)
    except TimeoutError:
        pass
    return events


def calls_of(events, func=None):
    return [e for e in events if e["event"] == "call" and func in (None, e["func"])]


def n_calls(n, func=None):
    return lambda events: len(calls_of(events, func)) >= n


def check_thread_calls(calls, pid, threads, iters, func, addr=None):
    """calls (events of func) are exactly those of one round of counter THREADS ITERS: per
    thread ITERS calls with the arguments t*1000000 + i in order, in time order, the t
    being 0..threads-1, none in the main thread."""
    per = collections.defaultdict(list)
    for ev in calls:
        mh.check_call_event(ev, pid)
        assert ev["func"] == func, ev
        if addr is not None:
            assert ev["addr"] == addr, ev
        per[ev["tid"]].append(ev)
    assert len(calls) == threads * iters, (func, len(calls))
    assert len(per) == threads and pid not in per, sorted(per)
    seen = set()
    for tid, evs in per.items():
        args = [int(e["args"][0], 16) for e in evs]
        t = args[0] // 1000000
        assert args == [t * 1000000 + i for i in range(iters)], (tid, func, args[:5])
        ts = [e["ts_ns"] for e in evs]
        assert ts == sorted(ts), (tid, func)
        seen.add(t)
    assert seen == set(range(threads)), seen


def hooks_of(targets, pid):
    """{spec: hook row} of pid in a list reply; pid must be listed once."""
    rows = [t for t in targets if t["pid"] == pid]
    assert len(rows) == 1, targets
    return {h["spec"]: h for h in rows[0]["hooks"]}


def ready_event(pid):
    """The ready event of an attach by a client (no hooks yet)."""
    return {"event": "ready", "pid": pid, "hooks": [], "pending": []}


def armed_event(pid, hook):
    """The armed event of a hook, from the "hook" object of its reply."""
    return dict(hook, event="armed", pid=pid)


def expect_error(code, fn, *args, **kw):
    with pytest.raises(mhook.Error) as e:
        fn(*args, **kw)
    assert e.value.code == code, e.value.reply
    assert isinstance(e.value.message, str) and e.value.message, e.value.reply
    return e.value.reply


def raw_reply(c, line, rid):
    """Sends line as it is and returns the one reply to it (id rid, or None when the
    server could read none); an event met meanwhile fails the test."""
    c.send_raw(line)
    r = c.read_line(timeout=mh.WAIT)
    assert r is not None, "EOF after %r" % line[:100]
    assert "event" not in r, r
    assert r.get("id") == rid, (r, line[:100])
    return r


# ---- 1. a daemon, one client ------------------------------------------------------------------

@pytest.mark.sanitize
@pytest.mark.timeout(120)
def test_daemon_hook_calls_list_disconnect(procs, tmp_path):
    threads, iters = 4, 1000
    d = Daemon(procs, tmp_path)
    tg = Target(procs, threads, iters, "--linger")
    c = d.connect()
    h = c.hello
    assert h["event"] == "hello" and h["protocol"] == 1 and h["pid"] == d.pid, h
    assert "swbp" in h["strategies"], h
    assert h["uid"] == 0, h
    assert isinstance(h["client"], int) and not isinstance(h["client"], bool), h
    assert isinstance(h["version"], str) and h["version"], h

    assert c.subscribe(pids=[tg.pid], funcs=[EXE_FN]) == {"id": 1, "ok": True}
    r = c.hook(tg.pid, EXE_FN)
    assert r["id"] == 2 and r["pid"] == tg.pid and r["spec"] == EXE_FN, r
    assert r["state"] == "armed", r
    assert r["hook"]["func"] == EXE_FN and r["hook"]["lib"] == "counter", r
    assert r["hook"]["strategy"] == "swbp" and r["hook"]["spec"] == EXE_FN, r
    addr = r["hook"]["addr"]
    assert addr == exe_addr(tg.pid), r
    assert tracer_of(tg.pid) == d.pid
    # the attach and the hook, as events
    first = read_until(c, lambda evs: len(evs) >= 2, quiet=0, poke=d.poke)
    assert first == [ready_event(tg.pid), armed_event(tg.pid, r["hook"])], first

    tg.go()
    tg.expect_round()
    assert tg.line() == "done"
    events = read_until(c, n_calls(threads * iters), poke=d.poke)
    # nothing but the calls: no exit, no error
    assert [e["event"] for e in events] == ["call"] * (threads * iters), \
        [e for e in events if e["event"] != "call"]
    check_thread_calls(events, tg.pid, threads, iters, EXE_FN, addr)

    targets = c.list()
    assert [t["pid"] for t in targets] == [tg.pid], targets
    exe = targets[0]["exe"]
    if exe.endswith(" (deleted)"):  # rebuilt meanwhile
        exe = exe[:-len(" (deleted)")]
    assert exe == os.path.realpath(mh.target("counter")), targets
    assert targets[0]["holders"] == 1, targets
    hooks = hooks_of(targets, tg.pid)
    assert set(hooks) == {EXE_FN}, hooks
    row = hooks[EXE_FN]
    assert (row["state"], row["calls"], row["clients"], row["keep"]) == \
        ("armed", threads * iters, 1, False), row
    assert row["hook"]["addr"] == addr, row

    st = c.stats()
    assert st["client"] == h["client"], st
    assert [(x["pid"], x["spec"], x["calls"]) for x in st["hooks"]] == \
        [(tg.pid, EXE_FN, threads * iters)], st
    me = [x for x in st["clients"] if x["client"] == h["client"]]
    assert len(me) == 1, st
    assert (me[0]["delivered"], me[0]["lost"], me[0]["queued"], me[0]["uid"],
            me[0]["pid"], me[0]["limit"]) == (threads * iters + 2, 0, 0, 0, os.getpid(),
                                              4 * 1024 * 1024), st

    c.close()
    tg.assert_left_alone()
    with d.connect() as other:
        assert other.list() == []
    tg.go()
    tg.expect_round()  # the second round, unhooked
    assert mh.wait(tg.t) == 0
    assert d.stop() == 0
    assert not os.path.exists(d.path)


def test_daemon_says_listening(procs, tmp_path):
    """`mhookd: listening on PATH` is on stderr while it serves, not only at its exit."""
    d = Daemon(procs, tmp_path)
    deadline = time.monotonic() + 5
    while "mhookd: listening on %s\n" % d.path not in d.stderr():
        assert time.monotonic() < deadline, "stderr so far: %r" % d.stderr()
        time.sleep(0.05)
    assert d.stop() == 0


# ---- 2. many clients, each its own filter -----------------------------------------------------

@pytest.mark.timeout(120)
def test_sixteen_clients_own_filters(procs, tmp_path):
    threads, iters = 4, 500
    each = threads * iters
    d = Daemon(procs, tmp_path)
    tg = Target(procs, threads, iters, "--linger")

    # (funcs, kinds, pids) per client
    plans = []
    for i in range(16):
        funcs = [[EXE_FN], [LIB_FN], ["counter_*_fn"], None][i % 4]
        kinds = ["call"] if i % 8 >= 4 else None
        pids = [tg.pid] if i % 3 == 0 else None
        plans.append((funcs, kinds, pids))
    plans[14] = (["counter_nothing*"], None, None)  # a glob matching nothing
    plans[15] = ([EXE_FN], ["ready", "armed"], None)  # no calls: ready, armed exe
    clients = [d.connect() for _ in plans]
    ctl = d.connect()
    assert len({c.hello["client"] for c in clients + [ctl]}) == 17
    for c, (funcs, kinds, pids) in zip(clients, plans):
        assert c.subscribe(pids=pids, funcs=funcs, kinds=kinds)["ok"] is True
    exe = ctl.hook(tg.pid, EXE_FN)["hook"]
    lib = ctl.hook(tg.pid, LIB_FN)["hook"]
    assert (exe["addr"], lib["addr"]) == (exe_addr(tg.pid), lib_addr(tg.pid))
    # two clients share the hooks the controller made: the same hook, no new event
    assert clients[0].hook(tg.pid, EXE_FN)["hook"] == exe
    assert clients[1].hook(tg.pid, LIB_FN)["hook"] == lib
    hooks = hooks_of(ctl.list(), tg.pid)
    assert (hooks[EXE_FN]["clients"], hooks[LIB_FN]["clients"]) == (2, 2), hooks

    tg.go()
    tg.expect_round()
    assert tg.line() == "done"
    st = None
    for i, (c, (funcs, kinds, pids)) in enumerate(zip(clients, plans)):
        want = {f for f in (EXE_FN, LIB_FN)
                if funcs is None or any(fnmatch.fnmatchcase(f, g) for g in funcs)}
        if kinds is not None and "call" not in kinds:
            want_calls = set()
        else:
            want_calls = want
        # what else it must get, in this order: ready, then armed per hook it wants
        others = []
        if kinds is None or "ready" in kinds:
            others = [ready_event(tg.pid)]
        if kinds is None or "armed" in kinds:
            others += [armed_event(tg.pid, h) for h in (exe, lib) if h["func"] in want]
        done = (lambda evs, n=each * len(want_calls) + len(others): len(evs) >= n)
        events = read_until(c, done, poke=d.poke)
        for f, h in ((EXE_FN, exe), (LIB_FN, lib)):
            got = calls_of(events, f)
            if f in want_calls:
                check_thread_calls(got, tg.pid, threads, iters, f, h["addr"])
            else:
                assert got == [], (i, plans[i], got[:2])
        assert events[:len(others)] == others, (i, plans[i], events[:3])
        assert [e for e in events if e["event"] != "call"] == others, (i, plans[i])
        if st is None:
            st = {x["client"]: x for x in ctl.stats()["clients"]}
        x = st[c.hello["client"]]
        assert (x["delivered"], x["lost"]) == (len(events), 0), (i, x)
    assert (st[ctl.hello["client"]]["delivered"], st[ctl.hello["client"]]["lost"]) == (0, 0)
    hooks = hooks_of(ctl.list(), tg.pid)
    assert {f: (h["calls"], h["clients"]) for f, h in hooks.items()} == \
        {EXE_FN: (each, 2), LIB_FN: (each, 2)}, hooks
    for c in clients:
        c.close()
    assert set(hooks_of(ctl.list(), tg.pid)) == {EXE_FN, LIB_FN}  # ctl's hooks stay
    ctl.close()
    tg.assert_left_alone()
    tg.go()
    tg.expect_round()
    assert mh.wait(tg.t) == 0
    assert d.stop() == 0


@pytest.mark.timeout(120)
def test_events_written_after_target_exit(procs, tmp_path):
    """A target ends: its last calls and its exit reach the subscriber without anyone
    asking anything more (no Poker here). Twenty short targets in turn: a lost flush is a
    race (an event queue that missed the tracer's last kick left them unwritten)."""
    threads, iters = 2, 5
    d = Daemon(procs, tmp_path)
    c = d.connect()
    c.subscribe()
    ctl = d.connect()
    missed = []
    for round_ in range(20):
        tg = Target(procs, threads, iters)
        hook = ctl.hook(tg.pid, EXE_FN)["hook"]
        try:
            first = read_until(c, lambda evs: len(evs) >= 2, timeout=3, quiet=0)
        except AssertionError as e:  # a lost flush after the hook
            missed.append((round_, "ready, armed: " + str(e)[:300]))
            break
        assert first == [ready_event(tg.pid), armed_event(tg.pid, hook)], first
        reaper = threading.Thread(target=tg.t.wait, daemon=True)
        reaper.start()
        tg.go()
        tg.expect_round()
        reaper.join(mh.WAIT)
        assert tg.t.returncode == 0
        exit_ev = {"event": "exit", "pid": tg.pid, "status": 0}
        try:
            events = read_until(c, lambda evs: exit_ev in evs, timeout=3, quiet=0)
        except AssertionError as e:
            missed.append((round_, str(e)[:300]))
            break
        assert events[-1] == exit_ev, events
        check_thread_calls(events[:-1], tg.pid, threads, iters, EXE_FN, hook["addr"])
    assert missed == []


@pytest.mark.timeout(120)
def test_exit_event_reaches_every_subscriber(procs, tmp_path):
    """A client subscribed to exits alone gets the exit of a process another client
    hooked, as does one subscribed to everything, also when the process is reaped at
    once (its access was then asked of a process gone). Twenty targets in turn."""
    d = Daemon(procs, tmp_path)
    ctl = d.connect()
    everything = d.connect()
    everything.subscribe()
    missed = []
    for round_ in range(20):
        if missed:
            break
        exits = d.connect()
        exits.subscribe(kinds=["exit"])
        tg = Target(procs, 2, 5)
        ctl.hook(tg.pid, EXE_FN)
        # its parent blocks in waitpid, as a shell does: reaped as soon as mhookd lets go
        # (Popen.wait with a timeout polls, which leaves the zombie around for a while)
        reaper = threading.Thread(target=tg.t.wait, daemon=True)
        reaper.start()
        tg.go()
        tg.expect_round()
        reaper.join(mh.WAIT)
        assert tg.t.returncode == 0
        exit_ev = {"event": "exit", "pid": tg.pid, "status": 0}
        got = read_until(everything, lambda evs: exit_ev in evs, quiet=0, poke=ctl.stats)
        assert got[-1] == exit_ev, got
        ctl.stats()  # what is queued for `exits` is written too
        got = read_until(exits, lambda evs: True, quiet=0.3)
        if got != [exit_ev]:
            missed.append((round_, got))
        exits.close()
    assert missed == []


# ---- 3. a client that does not read --------------------------------------------------------------

class RawReader(threading.Thread):
    """A client that reads its socket as fast as it can into memory (no parsing while the
    events flow, so that it keeps up with the target): hello, then the request given,
    then everything until EOF or stop()."""

    def __init__(self, path, request):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(mh.WAIT)
        self.sock.connect(path)
        self.data = bytearray()
        while b"\n" not in self.data:
            chunk = self.sock.recv(65536)
            assert chunk, "EOF before hello"
            self.data += chunk
        self.hello = json.loads(self.data[:self.data.index(b"\n")])
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        self.stopped = False
        self.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            self.data += chunk

    def lines(self):
        """Every whole line received so far, parsed (the hello first)."""
        data = bytes(self.data)
        return [json.loads(l) for l in data[:data.rfind(b"\n") + 1].splitlines() if l]

    def wait_reply(self):
        """Wait for the reply to the request given, and check that it is ok."""
        deadline = time.monotonic() + mh.WAIT
        while len(self.lines()) < 2:
            assert time.monotonic() < deadline, "no reply to the reader's request"
            time.sleep(0.01)
        assert self.lines()[1] == {"id": 1, "ok": True}, self.lines()[1]

    def count(self, what=b'{"event":"call",'):
        return bytes(self.data).count(what)

    def stop(self):
        self.stopped = True
        self.join(5)
        self.sock.close()


# 2 to 2.5 minutes under ASan alone, more beside the other lanes of make check
@pytest.mark.timeout(420)
def test_stuck_client_loses_alone(procs, tmp_path):
    threads, iters = 3, 100000
    calls = threads * iters
    # The queue must hold what the reader is sent while mhookd's server thread waits its
    # turn on the CPUs (the target makes some 200,000 calls a second: with 64 KiB, and
    # even 1 MiB on a loaded machine, the reader loses events too), and be much smaller
    # than the stream (300,000 lines, some 57 MB).
    limit = 4 * 1024 * 1024
    d = Daemon(procs, tmp_path, ["--client-queue", "4M"])
    tg = Target(procs, threads, iters, "--linger")
    ctl = d.connect()
    addr = ctl.hook(tg.pid, EXE_FN)["hook"]["addr"]
    stuck = d.connect()
    stuck.subscribe(pids=[tg.pid], kinds=["call"])
    reader = RawReader(d.path, {"id": 1, "op": "subscribe", "pids": [tg.pid], "kinds": ["call"]})
    try:
        reader.wait_reply()
        rss0 = vm_rss_kib(d.pid)
        peak = [rss0]
        sampling = [True]

        def sample():
            while sampling[0]:
                try:
                    peak[0] = max(peak[0], vm_rss_kib(d.pid))
                except (OSError, AssertionError):
                    return
                time.sleep(0.05)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.monotonic()
        tg.go()
        tg.expect_round(timeout=360)  # the target is not slowed to the stuck client's pace
        assert tg.line() == "done"
        elapsed = time.monotonic() - start
        deadline = time.monotonic() + mh.WAIT
        while reader.count() < calls:
            assert time.monotonic() < deadline, "the reader got %d calls of %d" % (
                reader.count(), calls)
            time.sleep(0.05)
            d.poke()
        time.sleep(QUIET)
        sampling[0] = False
        sampler.join(5)
        st = {x["client"]: x for x in ctl.stats()["clients"]}  # the reader still there
    finally:
        reader.stop()
    got = reader.lines()
    assert got[0]["event"] == "hello" and got[1] == {"id": 1, "ok": True}, got[:2]
    assert [e["event"] for e in got[2:]] == ["call"] * calls, \
        [e for e in got[2:] if e["event"] != "call"][:3]
    check_thread_calls(got[2:], tg.pid, threads, iters, EXE_FN, addr)
    # mhookd's memory stays bounded: an unbounded queue would hold the stuck client's
    # whole backlog (57 MB); two bounded ones take at most 2 x 8 MiB (a queue's buffer
    # doubles up to past its limit)
    assert peak[0] - rss0 < 32 * 1024, "VmRSS %d KiB -> %d KiB" % (rss0, peak[0])
    assert peak[0] < 64 * 1024 or "san" in os.path.basename(os.path.dirname(mh.MHOOKD)), \
        "VmRSS peaked at %d KiB" % peak[0]

    me = st[stuck.hello["client"]]
    assert me["lost"] > 0 and me["delivered"] + me["lost"] == calls, me
    assert me["limit"] == limit, me
    assert st[reader.hello["client"]]["lost"] == 0, st
    assert st[reader.hello["client"]]["delivered"] == calls, st

    # The stuck client reads at last. It gets the calls that fit in its queue (and the
    # socket's buffer), each run of dropped ones marked by a lost line where they are
    # missing: walked against the reader's stream, every call is the next one there and
    # every lost count skips exactly the calls it did not get. The last line is a lost
    # one (the target finished long before).
    events = read_until(stuck, lambda evs: sum(e.get("count", 0) for e in evs
                                               if e["event"] == "lost") + len(calls_of(evs))
                        >= calls)
    assert events[-1]["event"] == "lost", events[-3:]
    key = lambda e: (e["tid"], e["args"][0])
    stream = [key(e) for e in got[2:]]
    j = 0
    for n, e in enumerate(events):
        if e["event"] == "lost":
            assert set(e) == {"event", "count"} and e["count"] > 0, e
            j += e["count"]
        else:
            assert e["event"] == "call", e
            assert j < calls and key(e) == stream[j], (n, e, j)
            j += 1
    assert j == calls, j
    k = len(calls_of(events))
    assert events[0]["event"] == "call" and k > 0, events[:2]
    assert (k, calls - k) == (me["delivered"], me["lost"]), me
    assert stuck.list()[0]["pid"] == tg.pid  # and it is served again
    me = {x["client"]: x for x in stuck.stats()["clients"]}[stuck.hello["client"]]
    assert (me["delivered"], me["lost"]) == (k, calls - k), me
    stuck.close()
    ctl.close()
    tg.assert_left_alone()
    tg.go()
    tg.expect_round()
    assert mh.wait(tg.t) == 0
    assert d.stop() == 0
    print("%d hooked calls in %.1f s; mhookd VmRSS %d -> %d KiB" % (calls, elapsed, rss0,
                                                                    peak[0]))


# ---- 4. the socket file ----------------------------------------------------------------------

def test_socket_file(procs, tmp_path):
    # default: 0600, a socket, mhookd's
    d = Daemon(procs, tmp_path, name="a")
    st = os.lstat(d.path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())

    # a second mhookd on a live socket: refused, the first one unharmed
    r = mh.mhookd(["--listen", d.path])
    assert r.returncode != 0, r
    line = mh.assert_error_line(r.stderr)
    assert d.path in line and "in use" in line, line
    with d.connect() as c:
        assert c.list() == []
    assert stat.S_ISSOCK(os.lstat(d.path).st_mode)
    assert d.stop() == 0
    assert not os.path.exists(d.path)

    # --socket-mode
    d = Daemon(procs, tmp_path, ["--socket-mode", "0660"], name="b")
    assert stat.S_IMODE(os.lstat(d.path).st_mode) == 0o660
    assert d.stop() == 0
    assert not os.path.exists(d.path)

    # a stale socket (bound, closed, never unlinked) is replaced
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.path)
    s.close()
    assert stat.S_ISSOCK(os.lstat(d.path).st_mode)
    d = Daemon(procs, tmp_path, name="c")
    with d.connect() as c:
        assert c.hello["pid"] == d.pid
    assert stat.S_IMODE(os.lstat(d.path).st_mode) == 0o600
    assert d.stop(signal.SIGINT) == 0
    assert not os.path.exists(d.path)

    # a regular file is not replaced
    with open(d.path, "w") as f:
        f.write("precious\n")
    os.chmod(d.path, 0o640)
    r = mh.mhookd(["--listen", d.path])
    assert r.returncode != 0, r
    line = mh.assert_error_line(r.stderr)
    assert d.path in line and "not a socket" in line, line
    st = os.lstat(d.path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
    assert open(d.path).read() == "precious\n"


# ---- 5. bad requests -------------------------------------------------------------------------

@pytest.mark.sanitize
@pytest.mark.timeout(120)
def test_bad_requests(procs, tmp_path):
    threads, iters = 2, 50
    d = Daemon(procs, tmp_path)
    tg = Target(procs, threads, iters, "--linger")
    watcher = d.connect()  # sees every event there is, must see none of the errors
    watcher.subscribe()
    owner = d.connect()  # holds the target with a swbp hook
    hook = owner.hook(tg.pid, EXE_FN)["hook"]
    exe = hook["addr"]
    first = read_until(watcher, lambda evs: len(evs) >= 2, poke=d.poke)
    assert first == [ready_event(tg.pid), armed_event(tg.pid, hook)], first
    c = d.connect()
    n = [0]

    def rid():
        n[0] += 1
        return n[0]

    def bad(line, code, rid_expected):
        r = raw_reply(c, line if isinstance(line, bytes) else line.encode() + b"\n",
                      rid_expected)
        assert r["ok"] is False and r["code"] == code, (line[:200], r)
        assert set(r) == {"id", "ok", "code", "error"}, r
        assert isinstance(r["error"], str) and r["error"], r
        # still served
        i = rid()
        r = raw_reply(c, b'{"id":%d,"op":"list"}\n' % i, i)
        assert r["ok"] is True, r
        return r

    # not JSON / not an object: no id could be read
    bad('{"id":1,"op":', "bad_request", None)
    bad('not json at all', "bad_request", None)
    bad('{"id":2,"op":"list"} {"id":3,"op":"list"}', "bad_request", None)
    bad('[1,2,3]', "bad_request", None)
    bad('"list"', "bad_request", None)
    bad(b'{"id":4,"op":"li\x00st"}\n', "bad_request", None)
    bad(b'{"id":5,"op":"\xff\xfe"}\n', "bad_request", None)  # lines are UTF-8
    # missing or bad id
    bad('{"op":"list"}', "bad_request", None)
    bad('{"id":"7","op":"list"}', "bad_request", None)
    bad('{"id":-1,"op":"list"}', "bad_request", None)
    bad('{"id":1.5,"op":"list"}', "bad_request", None)
    bad('{"id":%d,"op":"list"}' % (2 ** 53 + 1), "bad_request", None)

    # a line over the limit, and one exactly at it
    i = rid()
    big = b'{"id":%d,"op":"list","pad":"' % i
    big += b"x" * (MAX_LINE + 1 - len(big) - 2) + b'"}'
    assert len(big) == MAX_LINE + 1
    bad(big + b"\n", "too_big", None)
    bad(b"y" * (4 * MAX_LINE) + b"\n", "too_big", None)
    i = rid()
    exact = b'{"id":%d,"op":"list","pad":"' % i
    exact += b"x" * (MAX_LINE - len(exact) - 2) + b'"}'
    assert len(exact) == MAX_LINE
    r = raw_reply(c, exact + b"\n", i)
    assert r["ok"] is True and [t["pid"] for t in r["targets"]] == [tg.pid], r

    # unknown op, missing and mistyped fields
    i = rid()
    bad('{"id":%d,"op":"frobnicate"}' % i, "unknown_op", i)
    i = rid()
    bad('{"id":%d,"op":"LIST"}' % i, "unknown_op", i)
    for req in ['{"id":%d}',
                '{"id":%d,"op":7}',
                '{"id":%d,"op":"hook","pid":' + str(tg.pid) + '}',
                '{"id":%d,"op":"hook","spec":"' + EXE_FN + '"}',
                '{"id":%d,"op":"hook","pid":"' + str(tg.pid) + '","spec":"' + EXE_FN + '"}',
                '{"id":%d,"op":"hook","pid":' + str(tg.pid) + ',"spec":5}',
                '{"id":%d,"op":"hook","pid":' + str(tg.pid) + ',"spec":""}',
                '{"id":%d,"op":"hook","pid":-5,"spec":"' + EXE_FN + '"}',
                '{"id":%d,"op":"hook","pid":' + str(tg.pid) + ',"spec":"counter_*"}',
                '{"id":%d,"op":"hook","pid":' + str(tg.pid) + ',"spec":"' + LIB_FN +
                '","keep":"yes"}',
                '{"id":%d,"op":"hook","pid":' + str(tg.pid) + ',"spec":"' + LIB_FN +
                '","strategy":"teleport"}',
                '{"id":%d,"op":"attach"}',
                '{"id":%d,"op":"symbols","pid":' + str(tg.pid) + '}',
                '{"id":%d,"op":"symbols","pid":' + str(tg.pid) + ',"glob":"*","limit":0}',
                '{"id":%d,"op":"subscribe","pids":"all"}',
                '{"id":%d,"op":"subscribe","kinds":["calls"]}',
                '{"id":%d,"op":"subscribe","funcs":[3]}',
                '{"id":%d,"op":"subscribe","summary_ms":1}']:
        i = rid()
        bad(req % i, "bad_request", i)

    # ids must grow: the same id again, or a smaller one, is refused (with that id)
    i = rid()
    assert raw_reply(c, b'{"id":%d,"op":"list"}\n' % i, i)["ok"] is True
    bad('{"id":%d,"op":"list"}' % i, "bad_request", i)
    bad('{"id":%d,"op":"list"}' % (i - 3), "bad_request", i - 3)
    bad('{"id":0,"op":"list"}', "bad_request", 0)
    n[0] += 1000  # gaps are fine
    i = rid()
    assert raw_reply(c, b'{"id":%d,"op":"list"}\n' % i, i)["ok"] is True

    # the Client's own numbering from here on
    c.next_id = n[0] + 1
    gone = free_pid()
    expect_error("no_such_process", c.hook, gone, EXE_FN)
    expect_error("no_such_process", c.attach, gone)
    expect_error("no_such_process", c.symbols, gone, "*")
    expect_error("no_such_process", c.subscribe, pids=[gone])
    reply = expect_error("not_found", c.hook, tg.pid, "no_such_function_xyz")
    assert "no_such_function_xyz" in reply["error"], reply
    expect_error("not_found", c.hook, tg.pid, "libcounter:counter_lib_fnn")
    expect_error("not_found", c.unhook, tg.pid, EXE_FN)  # the owner's, not c's
    expect_error("not_found", c.unhook, tg.pid, LIB_FN)
    # another strategy on the owner's hook, by its SPEC or by another name of its code
    for strategy in [s for s in ("hwbp", "nx", "step") if s in c.hello["strategies"]]:
        reply = expect_error("busy", c.hook, tg.pid, EXE_FN, strategy=strategy)
        assert "swbp" in reply["error"], reply
        reply = expect_error("busy", c.hook, tg.pid, "counter:" + EXE_FN, strategy=strategy)
        assert "swbp" in reply["error"], reply
        reply = expect_error("busy", c.hook, tg.pid, exe, strategy=strategy)
        assert "swbp" in reply["error"], reply

    # nothing of it stayed: the owner's hook alone, c holds nothing
    targets = c.list()
    assert [t["pid"] for t in targets] == [tg.pid] and targets[0]["holders"] == 1, targets
    hooks = hooks_of(targets, tg.pid)
    assert set(hooks) == {EXE_FN}, hooks
    assert (hooks[EXE_FN]["clients"], hooks[EXE_FN]["hook"]["strategy"]) == (1, "swbp"), hooks
    assert [(h["spec"], h["strategy"]) for h in c.stats()["hooks"]] == [(EXE_FN, "swbp")]
    # the watcher saw nothing of all that, and its stream works: the calls come, alone
    assert read_quiet(watcher) == []
    tg.go()
    tg.expect_round()
    assert tg.line() == "done"
    events = read_until(watcher, n_calls(threads * iters), poke=d.poke)
    assert [e["event"] for e in events] == ["call"] * (threads * iters), \
        [e for e in events if e["event"] != "call"]
    check_thread_calls(events, tg.pid, threads, iters, EXE_FN, exe)
    # and c gets no late replies or errors
    assert c.subscribe(kinds=["error"])["ok"] is True
    assert read_quiet(c) == []
    for x in (c, watcher, owner):
        x.close()
    tg.assert_left_alone()
    tg.go()
    tg.expect_round()
    assert mh.wait(tg.t) == 0
    assert d.stop() == 0


def test_failed_hook_on_untraced_target_is_silent(procs, tmp_path):
    """A hook that is refused (not_found) on a process mhookd does not trace yet leaves no
    trace: no event reaches the other clients, the process is not traced afterwards."""
    d = Daemon(procs, tmp_path)
    tg = Target(procs, 2, 10)
    watcher = d.connect()
    watcher.subscribe()
    c = d.connect()
    expect_error("not_found", c.hook, tg.pid, "no_such_function_xyz")
    assert c.list() == []
    tg.assert_left_alone()
    assert read_quiet(watcher) == []


def test_request_on_ended_process_is_no_such_process(procs, tmp_path):
    """docs/protocol.md: no_such_process is "no process has that pid, or it ended", also
    for a pid this client used before."""
    d = Daemon(procs, tmp_path)
    tg = Target(procs, 1, 10)
    c = d.connect()
    c.hook(tg.pid, EXE_FN)
    tg.go()
    tg.expect_round()
    assert mh.wait(tg.t) == 0
    deadline = time.monotonic() + mh.WAIT
    while c.list():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    codes = {}
    for op, fields in [("detach", {"pid": tg.pid}), ("attach", {"pid": tg.pid}),
                       ("hook", {"pid": tg.pid, "spec": EXE_FN}),
                       ("symbols", {"pid": tg.pid, "glob": "*"}),
                       ("subscribe", {"pids": [tg.pid]})]:
        try:
            c.request(op, **fields)
            codes[op] = "ok"
        except mhook.Error as e:
            codes[op] = e.code
    assert codes == {op: "no_such_process" for op in codes}, codes


# ---- 6. disconnects --------------------------------------------------------------------------

@pytest.mark.sanitize
@pytest.mark.timeout(120)
def test_disconnect_mid_request_and_mid_stream(procs, tmp_path):
    threads, iters = 4, 200000
    d = Daemon(procs, tmp_path)
    tg = Target(procs, threads, iters, "--linger")

    # mid-request: a client that holds the target by a hook sends half a hook and goes
    c = d.connect()
    c.hook(tg.pid, EXE_FN)
    other = d.connect()
    other.hook(tg.pid, EXE_FN)
    half = ('{"id":9,"op":"hook","pid":%d,"spec":"%s"' % (tg.pid, LIB_FN)).encode()
    c.send_raw(half[:len(half) // 2])
    time.sleep(0.2)
    c.send_raw(half[len(half) // 2:])
    c.close()
    hooks = None
    deadline = time.monotonic() + mh.WAIT
    while True:  # c's share goes when mhookd sees it gone
        hooks = hooks_of(other.list(), tg.pid)
        if hooks[EXE_FN]["clients"] == 1:
            break
        assert time.monotonic() < deadline, hooks
        time.sleep(0.02)
    assert set(hooks) == {EXE_FN}, hooks  # the half request hooked nothing
    # a lone client cut mid-request releases the target
    other.send_raw(b'{"id":10,"op":"unhook","pid":%d,"spec":"%s' % (tg.pid, EXE_FN.encode()))
    other.close()
    tg.assert_left_alone()  # still waiting at its gate
    with d.connect() as x:
        assert x.list() == []

    # mid-stream: subscribed, calls flowing, the client closes
    c = d.connect()
    c.hook(tg.pid, EXE_FN)
    c.hook(tg.pid, LIB_FN)
    c.subscribe(pids=[tg.pid], kinds=["call"])
    tg.go()
    events = read_until(c, n_calls(2000), quiet=0)
    assert len(calls_of(events)) >= 2000
    assert tg.t.poll() is None
    c.close()
    # the first round goes on, hooked and then not, with no call lost or broken
    tg.expect_round(timeout=90)
    assert tg.line() == "done"
    tg.assert_left_alone()
    with d.connect() as x:
        assert x.list() == []
    tg.go()
    tg.expect_round()
    assert mh.wait(tg.t) == 0
    assert d.stop() == 0


# ---- 7. two targets -----------------------------------------------------------------------------

@pytest.mark.sanitize
@pytest.mark.timeout(120)
def test_two_targets_detached_independently(procs, tmp_path):
    threads, iters = 2, 300
    d = Daemon(procs, tmp_path)
    a = Target(procs, threads, iters, "--linger")
    b = Target(procs, threads, iters, "--linger")
    c = d.connect()
    assert c.attach(a.pid) == {"id": 1, "ok": True, "pid": a.pid, "new": True}
    a_exe = c.hook(a.pid, EXE_FN)["hook"]["addr"]
    b_exe = c.hook(b.pid, EXE_FN)["hook"]["addr"]
    b_lib = c.hook(b.pid, LIB_FN)["hook"]["addr"]
    assert c.attach(b.pid) == {"id": 5, "ok": True, "pid": b.pid, "new": False}
    assert (a_exe, b_exe, b_lib) == (exe_addr(a.pid), exe_addr(b.pid), lib_addr(b.pid))
    assert tracer_of(a.pid) == tracer_of(b.pid) == d.pid
    c.subscribe(kinds=["call", "exit"])
    a.go()
    b.go()
    a.expect_round()
    b.expect_round()
    assert a.line() == b.line() == "done"
    per = threads * iters
    events = read_until(c, n_calls(3 * per), poke=d.poke)
    assert [e["event"] for e in events] == ["call"] * (3 * per)
    check_thread_calls([e for e in events if e["pid"] == a.pid], a.pid, threads, iters,
                       EXE_FN, a_exe)
    check_thread_calls(calls_of([e for e in events if e["pid"] == b.pid], EXE_FN), b.pid,
                       threads, iters, EXE_FN, b_exe)
    check_thread_calls(calls_of([e for e in events if e["pid"] == b.pid], LIB_FN), b.pid,
                       threads, iters, LIB_FN, b_lib)
    targets = c.list()
    assert sorted(t["pid"] for t in targets) == sorted([a.pid, b.pid]), targets
    assert {s: h["calls"] for s, h in hooks_of(targets, a.pid).items()} == {EXE_FN: per}
    assert {s: h["calls"] for s, h in hooks_of(targets, b.pid).items()} == \
        {EXE_FN: per, LIB_FN: per}

    # detach a: a is let go, b stays hooked
    assert c.detach(a.pid) == {"id": 8, "ok": True, "pid": a.pid, "detached": True}
    a.assert_left_alone()
    assert tracer_of(b.pid) == d.pid
    assert [t["pid"] for t in c.list()] == [b.pid]
    expect_error("not_found", c.detach, a.pid)
    a.go()
    a.expect_round()
    assert mh.wait(a.t) == 0
    # b's second round, still hooked, then its exit (a's is no event: not traced)
    b.go()
    b.expect_round()
    assert mh.wait(b.t) == 0
    b_exit = {"event": "exit", "pid": b.pid, "status": 0}
    events = read_until(c, lambda evs: b_exit in evs, poke=d.poke)
    assert events[-1] == b_exit, events[-3:]
    calls = events[:-1]
    assert [e["event"] for e in calls] == ["call"] * (2 * per)
    check_thread_calls(calls_of(calls, EXE_FN), b.pid, threads, iters, EXE_FN, b_exe)
    check_thread_calls(calls_of(calls, LIB_FN), b.pid, threads, iters, LIB_FN, b_lib)
    assert c.list() == []
    assert d.stop() == 0


@pytest.mark.timeout(120)
def test_two_targets_byte_identical_while_alive(procs, tmp_path):
    """Both targets alive at the detach of each: code checked for both."""
    d = Daemon(procs, tmp_path)
    a = Target(procs, 2, 100, "--linger")
    b = Target(procs, 2, 100, "--linger")
    c = d.connect()
    for t in (a, b):
        c.hook(t.pid, EXE_FN)
        c.hook(t.pid, LIB_FN)
    assert c.detach(b.pid)["detached"] is True
    b.assert_left_alone()
    assert tracer_of(a.pid) == d.pid
    assert c.detach(a.pid)["detached"] is True
    a.assert_left_alone()
    for t in (a, b):
        t.go()
        t.expect_round()
        assert t.line() == "done"
        t.go()
        t.expect_round()
        assert mh.wait(t.t) == 0
    assert read_quiet(c) == []  # never subscribed
    assert d.stop() == 0


# ---- 8. two users ---------------------------------------------------------------------------

USER_CLIENT = r'''
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
import mhook
path, root_pid, my_pid = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
out = {"uid": os.getuid()}

def code(fn, *a, **kw):
    try:
        fn(*a, **kw)
        return "ok"
    except mhook.Error as e:
        return e.code

c = mhook.connect(path)
out["hello_uid"] = c.hello["uid"]
out["attach_root"] = code(c.attach, root_pid)
out["hook_root"] = code(c.hook, root_pid, "counter_exe_fn")
out["symbols_root"] = code(c.symbols, root_pid, "*")
out["subscribe_root"] = code(c.subscribe, pids=[root_pid])
out["detach_root"] = code(c.detach, root_pid)
out["list_before"] = c.list()
c.subscribe()  # everything it may see
out["attach_mine"] = c.attach(my_pid)
out["hook_mine"] = c.hook(my_pid, "counter_exe_fn")
out["list_after"] = c.list()
st = c.stats()
out["stats_clients"] = [x["client"] for x in st["clients"]]
out["stats_hooks"] = sorted({x["pid"] for x in st["hooks"]})
out["client"] = c.hello["client"]
print(json.dumps(out), flush=True)
sys.stdin.readline()  # both targets have done their round
events = []
deadline = time.monotonic() + 20
while sum(e["event"] == "call" for e in events) < 200 and time.monotonic() < deadline:
    try:
        for ev in c.events(timeout=0.2):
            events.append(ev)
    except TimeoutError:
        c.stats()  # makes mhookd write what it has queued (see Poker)
try:
    for ev in c.events(timeout=0.5):
        events.append(ev)
except TimeoutError:
    pass
print(json.dumps(events), flush=True)
sys.stdin.readline()
'''


@pytest.fixture
def other_user():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not shutil.which("useradd") or not shutil.which("setpriv"):
        pytest.skip("needs useradd and setpriv")
    name = "mhtest_%d" % (int.from_bytes(os.urandom(3), "little"))
    r = mh.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", name])
    if r.returncode != 0:
        pytest.skip("cannot create a user: %s" % r.stderr.strip())
    try:
        pw = pwd.getpwnam(name)
        yield pw
    finally:
        mh.run(["userdel", "-f", name])


@pytest.mark.timeout(120)
def test_two_uids(procs, tmp_path, other_user):
    uid, gid = other_user.pw_uid, other_user.pw_gid
    as_user = ["setpriv", "--reuid", str(uid), "--regid", str(gid), "--clear-groups"]
    # tmp_path's parents are root's alone: the other user needs a way to the socket
    shared = tempfile.mkdtemp(prefix="mhsrv")
    try:
        os.chmod(shared, 0o755)
        script = os.path.join(shared, "client.py")
        with open(script, "w") as f:
            f.write(USER_CLIENT)
        os.chmod(script, 0o644)
        d = Daemon(procs, tmp_path, ["--socket-mode", "0666"],
                   path=os.path.join(shared, "mh.sock"))
        assert stat.S_IMODE(os.lstat(d.path).st_mode) == 0o666
        root_t = Target(procs, 2, 100, "--linger")
        user_t = Target(procs, 2, 100, "--linger", prefix=as_user)
        assert os.stat("/proc/%d" % user_t.pid).st_uid == uid
        root = d.connect()
        root_exe = root.hook(root_t.pid, EXE_FN)["hook"]["addr"]
        root.subscribe(pids=[root_t.pid], kinds=["call"])

        u = procs.popen(as_user + [mh.PYTHON, script, os.path.join(mh.REPO, "tools", "python"),
                                   d.path, str(root_t.pid), str(user_t.pid)], cwd="/")
        line = mh.readline(u)
        try:
            out = json.loads(line)
        except ValueError:
            raise AssertionError("user client: %r %s" % (line, u.stderr.read() if u.poll()
                                                        is not None else ""))
        assert out["uid"] == uid and out["hello_uid"] == uid, out
        assert (out["attach_root"], out["hook_root"], out["symbols_root"],
                out["subscribe_root"], out["detach_root"]) == ("denied",) * 5, out
        assert out["list_before"] == [], out
        assert out["attach_mine"]["new"] is True, out
        assert out["hook_mine"]["state"] == "armed", out
        user_exe = out["hook_mine"]["hook"]["addr"]
        assert user_exe == exe_addr(user_t.pid), out
        assert [t["pid"] for t in out["list_after"]] == [user_t.pid], out
        assert out["list_after"][0]["holders"] == 1, out
        assert out["stats_clients"] == [out["client"]], out
        assert out["stats_hooks"] == [user_t.pid], out
        # root sees both, and the root target's hook is unchanged by the user's tries
        targets = root.list()
        assert sorted(t["pid"] for t in targets) == sorted([root_t.pid, user_t.pid])
        assert hooks_of(targets, root_t.pid)[EXE_FN]["clients"] == 1
        assert tracer_of(user_t.pid) == d.pid

        root_t.go()
        user_t.go()
        root_t.expect_round()
        user_t.expect_round()
        assert root_t.line() == user_t.line() == "done"
        mh.send_line(u)
        events = json.loads(mh.readline(u))
        # the user got its own target's events, all of them, and nothing of root's
        assert events[:2] == [ready_event(user_t.pid),
                              armed_event(user_t.pid, out["hook_mine"]["hook"])], events[:2]
        assert [e["event"] for e in events[2:]] == ["call"] * 200, \
            [e for e in events if e["event"] != "call"]
        check_thread_calls(events[2:], user_t.pid, 2, 100, EXE_FN, user_exe)
        # root's subscription (pids=[root's]) got root's target's calls only
        calls = read_until(root, n_calls(200), poke=d.poke)
        check_thread_calls(calls, root_t.pid, 2, 100, EXE_FN, root_exe)
        mh.send_line(u)
        assert mh.wait(u) == 0, u.stderr.read()
        user_t.assert_left_alone()  # its client is gone
        assert tracer_of(root_t.pid) == d.pid
        root.close()
        root_t.assert_left_alone()
        for t in (root_t, user_t):
            t.go()
            t.expect_round()
            assert mh.wait(t.t) == 0
        assert d.stop() == 0
    finally:
        shutil.rmtree(shared, ignore_errors=True)


REMOTE_CLIENT = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import mhook
c = mhook.connect(sys.argv[2])
print(json.dumps(c.hello), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    op = req.pop("op")
    try:
        out = c.request(op, **req)
    except mhook.Error as e:
        out = e.reply
    print(json.dumps(out), flush=True)
'''


class RemoteClient:
    """A mhook client in a process of its own, run as another user (cmd_prefix): each
    request() is sent to it on a line and its reply (ok or not) comes back."""

    def __init__(self, procs, shared, cmd_prefix, path):
        script = os.path.join(shared, "remote.py")
        with open(script, "w") as f:
            f.write(REMOTE_CLIENT)
        os.chmod(script, 0o644)
        self.p = procs.popen(cmd_prefix + [mh.PYTHON, script,
                                           os.path.join(mh.REPO, "tools", "python"), path],
                             cwd="/")
        self.hello = self._read()

    def _read(self):
        line = mh.readline(self.p)
        try:
            return json.loads(line)
        except ValueError:
            raise AssertionError("remote client: %r" % line)

    def request(self, op, **fields):
        self.p.stdin.write(json.dumps(dict(fields, op=op)) + "\n")
        self.p.stdin.flush()
        return self._read()

    def close(self):
        self.p.stdin.close()
        assert mh.wait(self.p) == 0, self.p.stderr.read()


def spawn_with_pid(procs, pid, cmd, tries=20):
    """Starts cmd as a process with exactly this (free) pid, by /proc/sys/kernel/ns_last_pid;
    None when another process took it first every time."""
    for _ in range(tries):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        p = procs.popen(cmd)
        if p.pid == pid:
            return p
        p.kill()
        p.wait()
    return None


@pytest.mark.timeout(120)
def test_reused_pid_is_asked_again(procs, tmp_path, other_user):
    """A user's process ends and a root process gets its pid: the user may not trace the
    new one. (docs/protocol.md, Access: "the target is pinned with a pidfd, so that a pid
    reused meanwhile is not mistaken for it".)"""
    if not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK):
        pytest.skip("cannot choose pids here (no writable ns_last_pid)")
    uid, gid = other_user.pw_uid, other_user.pw_gid
    as_user = ["setpriv", "--reuid", str(uid), "--regid", str(gid), "--clear-groups"]
    shared = tempfile.mkdtemp(prefix="mhsrv")
    try:
        os.chmod(shared, 0o755)
        d = Daemon(procs, tmp_path, ["--socket-mode", "0666"],
                   path=os.path.join(shared, "mh.sock"))
        u = RemoteClient(procs, shared, as_user, d.path)
        assert u.hello["uid"] == uid
        mine = Target(procs, 1, 10, prefix=as_user)
        pid = mine.pid
        r = u.request("attach", pid=pid)
        assert r["ok"] is True and r["new"] is True, r
        r = u.request("detach", pid=pid)
        assert r["ok"] is True and r["detached"] is True, r
        mine.assert_left_alone()
        mine.go()
        mine.expect_round()
        assert mh.wait(mine.t) == 0  # gone, its pid free
        # the same pid, now root's
        p = spawn_with_pid(procs, pid, counter(1, 10, "--wait"))
        if p is None:
            pytest.skip("could not get pid %d again" % pid)
        assert mh.readline(p) == "ready %d" % pid
        assert os.stat("/proc/%d" % pid).st_uid == 0
        snap = mh.snapshot(pid)
        replies = {op: u.request(op, **fields) for op, fields in [
            ("attach", {"pid": pid}),
            ("hook", {"pid": pid, "spec": EXE_FN}),
            ("subscribe", {"pids": [pid]}),
            ("symbols", {"pid": pid, "glob": "counter_*"})]}
        targets = u.request("list")
        # undo whatever was let through before checking, so that cleanup is clean
        u.close()
        wait_untraced(pid)
        mh.assert_restored(snap, pid)
        assert {op: (r["ok"], r.get("code")) for op, r in replies.items()} == \
            {op: (False, "denied") for op in replies}, replies
        assert targets["ok"] is True and targets["targets"] == [], targets
        mh.send_line(p)
        assert mh.readline(p) == "total=%d" % total(1, 10)
        assert mh.wait(p) == 0
        assert d.stop() == 0
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# ---- 9. SIGTERM with clients ------------------------------------------------------------------

@pytest.mark.sanitize
@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_with_clients(procs, tmp_path, sig):
    threads, iters = 2, 300000
    d = Daemon(procs, tmp_path)
    tg = Target(procs, threads, iters, "--linger")
    c = d.connect()
    c.subscribe(kinds=["error", "disarmed"])
    c.hook(tg.pid, EXE_FN)
    c.hook(tg.pid, LIB_FN, keep=True)
    idle = d.connect()  # connected, never subscribed
    # the calls go to a client that keeps up (it parses nothing while they flow), so that
    # it loses none: every call it gets is the next one of its thread
    r = RawReader(d.path, {"id": 1, "op": "subscribe", "pids": [tg.pid], "kinds": ["call"]})
    try:
        # the target starts only once the subscription is in force: calls made before it
        # are (rightly) not sent to r, and would look like lost ones
        r.wait_reply()
        tg.go()
        deadline = time.monotonic() + mh.WAIT
        while r.count() < 1000:
            assert time.monotonic() < deadline, "no calls"
            time.sleep(0.01)
        assert tg.t.poll() is None
        d.p.send_signal(sig)
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        bye = {"event": "bye", "reason": "mhookd got %s" % name}
        # c reads on: bye comes last, then EOF
        assert read_until(c, lambda evs: False, timeout=mh.WAIT) == [bye]
        assert c.read_line(timeout=5) is None
        assert c.bye == bye
        assert read_until(idle, lambda evs: False) == [bye]
        assert idle.read_line(timeout=5) is None
        r.join(mh.WAIT)
        assert not r.is_alive(), "no EOF for the reader"
        assert mh.wait(d.p) == 0
    finally:
        r.stop()
    lines = r.lines()
    assert lines[1] == {"id": 1, "ok": True} and lines[-1] == bye, lines[-3:]
    calls = lines[2:-1]
    assert [e["event"] for e in calls] == ["call"] * len(calls), \
        [e for e in calls if e["event"] != "call"][:3]
    assert len(calls) >= 1000
    per = collections.defaultdict(list)
    for e in calls:
        per[(e["tid"], e["func"])].append(int(e["args"][0], 16))
    for (tid, func), args in per.items():
        t = args[0] // 1000000
        assert args == [t * 1000000 + i for i in range(len(args))], (tid, func, args[:3])
    assert not os.path.exists(d.path)
    tg.assert_left_alone()
    tg.expect_round(timeout=90)
    assert tg.line() == "done"
    tg.go()
    tg.expect_round(timeout=90)
    assert mh.wait(tg.t) == 0


@pytest.mark.timeout(120)
def test_bye_is_the_last_line(procs, tmp_path):
    """A client that had stopped reading, and had lost events, reads again while mhookd
    stops: bye is its last line, whatever came before."""
    d = Daemon(procs, tmp_path, ["--client-queue", "65536"])
    tg = Target(procs, 2, 300000, "--linger")
    ctl = d.connect()
    ctl.hook(tg.pid, EXE_FN)
    stuck = d.connect()
    stuck.subscribe(pids=[tg.pid], kinds=["call"])
    tg.go()
    deadline = time.monotonic() + mh.WAIT
    # its queue and its socket's buffer full for good: it goes on losing to the end
    while {x["client"]: x for x in ctl.stats()["clients"]}[stuck.hello["client"]]["lost"] \
            < 20000:
        assert time.monotonic() < deadline, "the stuck client lost little"
        time.sleep(0.05)
    d.p.send_signal(signal.SIGTERM)
    # It reads again once mhookd has let the target go, so while mhookd writes out
    # what is left for the clients (for up to a second) and no sooner.
    wait_untraced(tg.pid)
    time.sleep(0.2)
    lines = []
    while True:
        line = stuck.read_line(timeout=mh.WAIT)
        if line is None:
            break
        lines.append(line)
    assert mh.wait(d.p) == 0
    byes = [n for n, l in enumerate(lines) if l.get("event") == "bye"]
    assert byes == [len(lines) - 1], lines[byes[0]:] if byes else lines[-3:]
    tg.assert_left_alone()
    tg.expect_round(timeout=90)
    assert tg.line() == "done"


def test_summary_reaches_clients_at_shutdown(procs, tmp_path):
    """docs/protocol.md: a summary row per hook at exit, and the socket carries exactly
    the --json lines: a client subscribed to summaries gets them before bye."""
    threads, iters = 2, 50
    d = Daemon(procs, tmp_path)
    tg = Target(procs, threads, iters, "--linger")
    c = d.connect()
    c.hook(tg.pid, EXE_FN)
    c.subscribe(kinds=["summary"])
    tg.go()
    tg.expect_round()
    assert tg.line() == "done"
    assert d.stop() == 0
    events = read_until(c, lambda evs: False)
    assert events[-1]["event"] == "bye", events
    rows = [e for e in events if e["event"] == "summary"]
    assert [(r["pid"], r["func"], r["calls"]) for r in rows] == \
        [(tg.pid, EXE_FN, threads * iters)], events


# ---- 10. --listen with a command ---------------------------------------------------------------

@pytest.mark.sanitize
@pytest.mark.timeout(120)
def test_listen_launch(procs, tmp_path):
    threads, iters = 2, 200
    per = threads * iters
    out = str(tmp_path / "report")
    path = sock_path(tmp_path)
    m = procs.popen([mh.MHOOKD, "--listen", path, "--json", "-o", out, "-f", EXE_FN, "--"]
                    + counter(threads, iters, "--wait", "--linger"))
    line = mh.readline(m)
    assert line.startswith("ready "), line
    pid = int(line.split()[1])
    wait_socket(path, m)
    c = mhook.connect(path)
    assert c.hello["pid"] == m.pid
    targets = c.list()
    assert [t["pid"] for t in targets] == [pid], targets
    hooks = hooks_of(targets, pid)
    assert set(hooks) == {EXE_FN} and hooks[EXE_FN]["clients"] == 0, hooks
    assert targets[0]["holders"] == 0, targets
    expect_error("not_found", c.unhook, pid, EXE_FN)  # the command line's, not c's
    c.subscribe(pids=[pid])
    lib = c.hook(pid, LIB_FN)
    assert lib["state"] == "armed" and lib["hook"]["addr"] == lib_addr(pid), lib
    exe = hooks[EXE_FN]["hook"]["addr"]
    assert exe == exe_addr(pid)
    poke = Poker(path)
    assert read_until(c, lambda evs: len(evs) >= 1, poke=poke) == \
        [armed_event(pid, lib["hook"])]
    mh.send_line(m)
    assert mh.readline(m) == "total=%d" % total(threads, iters)
    assert mh.readline(m) == "done"
    events = read_until(c, n_calls(2 * per), poke=poke)
    assert [e["event"] for e in events] == ["call"] * (2 * per), \
        [e for e in events if e["event"] != "call"]
    check_thread_calls(calls_of(events, EXE_FN), pid, threads, iters, EXE_FN, exe)
    check_thread_calls(calls_of(events, LIB_FN), pid, threads, iters, LIB_FN, lib["hook"]["addr"])
    hooks = hooks_of(c.list(), pid)
    assert {s: (h["calls"], h["clients"]) for s, h in hooks.items()} == \
        {EXE_FN: (per, 0), LIB_FN: (per, 1)}, hooks
    # the client's hook goes with the client's unhook; the command line's stays
    assert c.unhook(pid, LIB_FN)["removed"] is True
    assert set(hooks_of(c.list(), pid)) == {EXE_FN}
    assert tracer_of(pid) == m.pid
    # the command ends with status 3 (stdin closed where it waits for a line)
    m.stdin.close()
    assert mh.wait(m) == 3, m.stderr.read()
    events = read_until(c, lambda evs: False)
    # the exit, the summary rows of the run (test_summary_reaches_clients_at_command_exit
    # says which), bye
    assert events[0] == {"event": "exit", "pid": pid, "status": 3}, events
    assert events[-1] == {"event": "bye", "reason": "the traced program ended"}, events
    assert [e["event"] for e in events[1:-1]] == ["summary"] * (len(events) - 2), events
    assert c.read_line(timeout=5) is None
    assert not os.path.exists(path)
    s = mh.summaries(mh.read_events(out))
    assert s[EXE_FN]["calls"] == per, s


def test_summary_reaches_clients_at_command_exit(procs, tmp_path):
    """docs/protocol.md: a summary row per hook at exit, on the socket as --json has
    them: a client subscribed to summaries gets the rows the -o file gets, before bye."""
    out = str(tmp_path / "report")
    path = sock_path(tmp_path)
    m = procs.popen([mh.MHOOKD, "--listen", path, "--json", "-o", out, "-f", EXE_FN, "--"]
                    + counter(2, 20, "--wait"))
    pid = int(mh.readline(m).split()[1])
    wait_socket(path, m)
    c = mhook.connect(path)
    c.subscribe(kinds=["summary", "exit"])
    mh.send_line(m)
    assert mh.readline(m) == "total=%d" % total(2, 20)
    assert mh.wait(m) == 0, m.stderr.read()
    events = read_until(c, lambda evs: False)
    rows = mh.of(mh.read_events(out), "summary")
    assert [(r["func"], r["calls"]) for r in rows] == [(EXE_FN, 40)], rows
    assert events == [{"event": "exit", "pid": pid, "status": 0}] + rows + \
        [{"event": "bye", "reason": "the traced program ended"}], events
