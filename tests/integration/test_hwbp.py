"""hwbp only (x86 debug registers): the 4 slots are a hard limit (a 5th
hook is one clear error naming the functions that hold the slots, never a silent
fallback), threads created after the attach get the registers too, and after a detach
DR7 is clear on every thread, so that a second mhookd can use all 4 slots again.

The debug registers of a target are read here with ptrace itself (ctypes): PTRACE_SEIZE
and PTRACE_INTERRUPT each thread in turn, PEEKUSER DR0-DR3 and DR7, detach. SEIZE sends
no SIGSTOP, so the target cannot notice. The rest of the hwbp tests are the whole suite,
parametrized over strategies (conftest.py's `strategy` fixture)."""

import ctypes
import os
import signal
import subprocess

import pytest

import mh
from test_counter import EXE_FN, LIB_FN, check_summaries, counter, total

PTRACE_PEEKUSER, PTRACE_DETACH = 3, 17
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
PTRACE_EVENT_STOP = 128
WALL = 0x40000000
U_DEBUGREG = 848  # offsetof(struct user, u_debugreg) on x86-64

# Four functions of the counter target, with their exact counts for `counter 2 100`:
# the two workers' functions, and libc functions that only the main thread calls.
COUNTER4 = ["counter_exe_fn", "counter_lib_fn", "pthread_join", "pthread_cond_broadcast"]
COUNTER4_CALLS = {"counter_exe_fn": 200, "counter_lib_fn": 200, "pthread_join": 2,
                  "pthread_cond_broadcast": 1}

# A target whose threads stay alive: `spawn N` starts N threads that each call the four
# getters once and then wait; `call N` makes the main thread call them N times; any other
# line ends it. Python itself calls none of them (checked against swbp in the test).
THREADS_PY = """import os, sys, threading
stop = threading.Event()
threads = []
def worker(done):
    os.getppid(); os.getuid(); os.getgid(); os.geteuid()
    done.release()
    stop.wait()
def spawn(n):
    done = threading.Semaphore(0)
    for _ in range(n):
        t = threading.Thread(target=worker, args=(done,))
        t.start()
        threads.append(t)
    for _ in range(n):
        done.acquire()
spawn(2)
print("ready", os.getpid(), flush=True)
for line in sys.stdin:
    cmd, arg = line.split()
    if cmd == "spawn":
        spawn(int(arg))
    elif cmd == "call":
        for _ in range(int(arg)):
            os.getppid(); os.getuid(); os.getgid(); os.geteuid()
    else:
        break
    print("ok", len(threads), flush=True)
stop.set()
for t in threads:
    t.join()
print("bye", flush=True)
"""
GETTERS = ["getppid", "getuid", "getgid", "geteuid"]


@pytest.fixture(autouse=True)
def hwbp_known():
    why = mh.strategy_unavailable("hwbp")
    if why:
        pytest.skip(why)
    if os.uname().machine != "x86_64":
        pytest.skip("x86 debug registers")


_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]


def _ptrace(req, tid, addr=0, data=0):
    ctypes.set_errno(0)
    v = _libc.ptrace(req, tid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
    err = ctypes.get_errno()
    if v == -1 and err:
        raise OSError(err, "ptrace(%#x, %d): %s" % (req, tid, os.strerror(err)))
    return v & ((1 << 64) - 1)


def debug_registers(pid):
    """{tid: (DR7, [DR0..DR3])} for every thread of pid, read with ptrace by this process
    (pid must not be traced by anyone else)."""
    out = {}
    for tid in sorted(int(t) for t in os.listdir("/proc/%d/task" % pid)):
        _ptrace(PTRACE_SEIZE, tid)
        pending = 0
        try:
            _ptrace(PTRACE_INTERRUPT, tid)
            _, status = os.waitpid(tid, WALL)
            assert os.WIFSTOPPED(status), status
            sig = os.WSTOPSIG(status)
            # anything but our interrupt is a signal for the target: hand it back
            pending = 0 if (status >> 16) == PTRACE_EVENT_STOP or sig == signal.SIGTRAP else sig
            regs = [_ptrace(PTRACE_PEEKUSER, tid, U_DEBUGREG + 8 * i) for i in range(8)]
            out[tid] = (regs[7], regs[:4])
        finally:
            _ptrace(PTRACE_DETACH, tid, 0, pending)
    return out


def assert_dr7_clear(pid):
    regs = debug_registers(pid)
    assert regs, "no threads"
    enabled = {tid: hex(dr7) for tid, (dr7, _) in regs.items() if dr7 & 0xff}
    assert not enabled, "DR7 still enables breakpoints after detach: %r" % enabled
    return regs


def not_traced(pid):
    return "\nTracerPid:\t0\n" in open("/proc/%d/status" % pid).read()


# --- the 4 slots ----------------------------------------------------------------------------

def test_fifth_hook_launch():
    """Launch: the 5th -f is refused before the command runs: exit 2, one `mhookd: ` line
    that names the refused function and the 4 holding DR0-DR3."""
    funcs = ["hz_riprel", "hz_jcc", "hz_call", "hz_jmp", "hz_ret"]
    args = ["-s", "hwbp", "-c"]
    for f in funcs:
        args += ["-f", f]
    r = mh.mhookd(args + ["--", mh.target("hazards"), "3"])
    assert r.returncode == 2, r
    line = mh.assert_error_line(r.stderr)
    for f in funcs:
        assert f in line, (f, line)
    for i in range(4):
        assert "DR%d %s" % (i, funcs[i]) in line, line
    assert "4" in line
    assert r.stdout == "", "the command ran although a hook was refused"


def test_fifth_hook_attach(procs, out):
    """Attach: the 5th hook is refused and the target is left as it was (code,
    protections, no tracer, debug registers clear in every thread); a second mhookd then
    gets all 4 slots and counts exactly."""
    t = procs.popen(counter(2, 100, "--wait"))
    assert mh.readline(t) == "ready %d" % t.pid
    before = mh.snapshot(t.pid)
    funcs = COUNTER4 + ["pthread_mutex_unlock"]
    r = mh.mhookd(["-s", "hwbp", "-p", str(t.pid), "-c"] + sum((["-f", f] for f in funcs), []))
    assert r.returncode == 2, r
    line = mh.assert_error_line(r.stderr)
    for f in funcs:
        assert f in line, (f, line)
    assert t.poll() is None
    assert not_traced(t.pid)
    mh.assert_restored(before, t.pid)
    assert len(assert_dr7_clear(t.pid)) == 3
    m = procs.popen([mh.MHOOKD, "-s", "hwbp", "-p", str(t.pid), "--json", "-c", "-o", out]
                    + sum((["-f", f] for f in COUNTER4), []), stdin=subprocess.DEVNULL)
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % total(2, 100)
    assert mh.wait(t) == 0
    assert mh.wait(m) == 0, m.stderr.read()
    assert mh.counts(mh.read_events(out)) == COUNTER4_CALLS


def test_slot_kept_across_dlclose(procs, out):
    """A library that is closed and opened again gets a free debug register back, never
    one that another hook holds. plugin_fn takes DR0 and libc's dlclose DR1 at the attach
    (the plugin is loaded then); every round closes the plugin, which gives DR0 back, and
    opens it again. Both keep counting exactly: plugin_fn 3 calls in the first round, then
    its constructor's and 3 more in each of the 3 others; dlclose once a round."""
    t = procs.popen([mh.target("loader"), "4", "3", "--wait-open"])
    assert mh.readline(t) == "ready %d" % t.pid
    m = procs.popen([mh.MHOOKD, "-s", "hwbp", "-p", str(t.pid), "--json", "-c", "-o", out,
                     "-f", "plugin_fn", "-f", "libc:dlclose"], stdin=subprocess.DEVNULL)
    ready = mh.wait_for_file_event(out, "ready", m)
    assert [h["func"] for h in ready["hooks"]] == ["plugin_fn", "dlclose"]
    mh.send_line(t)
    assert mh.readline(t) == "plugin_calls=12"
    assert mh.wait(t) == 0
    assert mh.wait(m) == 0, m.stderr.read()
    events = mh.read_events(out)
    assert not mh.of(events, "error"), events
    assert mh.counts(events) == {"plugin_fn": 3 + 3 * (1 + 3), "dlclose": 4}
    assert len(mh.of(events, "disarmed")) == 4 and len(mh.of(events, "armed")) == 3


def test_four_hooks_exact(out):
    """All 4 slots in use at once, in the executable, a library and libc: exact counts."""
    args = ["-s", "hwbp", "-c", "--json", "-o", out]
    for f in COUNTER4:
        args += ["-f", f]
    r = mh.mhookd(args + ["--"] + counter(2, 100))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "total=%d\n" % total(2, 100)
    assert mh.counts(mh.read_events(out)) == COUNTER4_CALLS


# --- threads created after the attach ---------------------------------------------------------

def test_new_threads_under_churn(procs, out):
    """Attached while a background thread creates and joins threads without pause: the
    second round's workers (created after the attach, among the churn) are hooked from
    their first call, so both rounds count exactly."""
    threads, iters = 4, 500
    a = mh.Attached(procs, counter(threads, iters, "--wait", "--linger", "--churn"),
                    ["-s", "hwbp", "-c", "-f", EXE_FN, "-f", LIB_FN], out)
    a.go()
    assert mh.readline(a.t) == "total=%d" % total(threads, iters)
    assert mh.readline(a.t) == "done"
    a.go()
    assert mh.readline(a.t) == "total=%d" % total(threads, iters)
    assert mh.wait(a.t) == 0
    assert mh.wait(a.m) == 0, a.m.stderr.read()
    check_summaries(mh.read_events(out), threads, iters, rounds=2, strategy="hwbp")


def test_churn_many_short_threads(out):
    """300 threads that live for 20 calls each, all created after the hooks were armed."""
    rounds, threads, iters = 50, 6, 20
    r = mh.mhookd(["-s", "hwbp", "--json", "-c", "-o", out, "-f", "churn_fn", "--",
                   mh.target("churn"), str(rounds), str(threads), str(iters)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "calls=%d\n" % (rounds * threads * iters)
    assert mh.counts(mh.read_events(out)) == {"churn_fn": rounds * threads * iters}


# --- detach ------------------------------------------------------------------------------------

def _hook_getters(procs, pid, out):
    m = procs.popen([mh.MHOOKD, "-s", "hwbp", "-p", str(pid), "--json", "-c", "-o", out]
                    + sum((["-f", f] for f in GETTERS), []), stdin=subprocess.DEVNULL)
    ready = mh.wait_for_file_event(out, "ready", m)
    assert sorted(h["func"] for h in ready["hooks"]) == sorted(GETTERS)
    assert {h["strategy"] for h in ready["hooks"]} == {"hwbp"}
    return m


def _cmd(t, line):
    t.stdin.write(line + "\n")
    t.stdin.flush()
    return mh.readline(t)


def test_detach_clears_dr7_on_every_thread(procs, tmp_path):
    """Threads that existed at the attach and threads created while hooked: after SIGINT
    every one of them has DR7 clear. A second mhookd then gets all 4 slots, the counts of
    both sessions are exact, and the target finishes normally."""
    script = tmp_path / "threads.py"
    script.write_text(THREADS_PY)
    t = procs.popen([mh.PYTHON, "-S", str(script)])
    assert mh.readline(t) == "ready %d" % t.pid
    before = mh.snapshot(t.pid)
    assert_dr7_clear(t.pid)  # nothing set before we start

    for round_, (spawn, calls) in enumerate([(3, 10), (2, 5)]):
        out = str(tmp_path / ("r%d" % round_))
        m = _hook_getters(procs, t.pid, out)
        assert _cmd(t, "spawn %d" % spawn).startswith("ok ")
        assert _cmd(t, "call %d" % calls).startswith("ok ")
        assert mh.interrupt(m) == 0, m.stderr.read()
        assert mh.counts(mh.read_events(out)) == {f: spawn + calls for f in GETTERS}
        assert not_traced(t.pid)
        regs = assert_dr7_clear(t.pid)
        # the main thread, the 2 first workers, and every worker spawned so far
        assert len(regs) == 1 + 2 + 3 + (2 if round_ else 0), regs
        mh.assert_restored(before, t.pid)

    t.stdin.write("quit 0\n")
    t.stdin.flush()
    assert mh.readline(t) == "bye"
    assert mh.wait(t) == 0


def test_slots_free_after_launch_detach(out):
    """--duration detach in launch mode while 4 threads hit all 4 slots: the command
    finishes right, unhooked."""
    r = mh.mhookd(["-s", "hwbp", "-c", "--json", "-o", out, "--duration", "0.5"]
                  + sum((["-f", f] for f in COUNTER4), []) + ["--"] + counter(4, 400000))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "total=%d\n" % total(4, 400000)
    c = mh.counts(mh.read_events(out))
    assert 0 < c["counter_exe_fn"] < 4 * 400000, c
