"""The target's own signals while hooked: its own int3 and raise(SIGTRAP) reach its SIGTRAP
handler, SIGUSR1 sent from outside or from another thread is delivered, SIGSTOP/SIGCONT
(group-stop) work, and the output is identical to an unhooked run. Every strategy."""

import os
import signal
import time

import pytest

import mh


def sigtarget(*args):
    return [mh.target("sigtarget")] + [str(a) for a in args]


def expected(n, usr1=0, trap_calls=False):
    trap = 2
    calls = n + usr1 + (trap if trap_calls else 0)  # each SIGUSR1 handler run calls sig_fn
    s = n * (n - 1) // 2 + 2000 * usr1 + (1000 * trap if trap_calls else 0)
    return "sig_fn=%d sum=%d\ntrap_handler=%d\nusr1_handler=%d\n" % (calls, s, trap, usr1), calls


@pytest.mark.sanitize
def test_own_int3_and_sigtrap(strategy, out):
    n = 500
    plain = mh.run(sigtarget(n))
    text, calls = expected(n)
    assert plain.stdout == text and plain.returncode == 0
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "sig_fn", "--"]
                  + sigtarget(n))
    assert r.returncode == 0, r.stderr
    assert r.stdout == text
    assert r.stderr == ""
    assert mh.counts(mh.read_events(out)) == {"sig_fn": calls}


def test_handler_calls_reported(strategy, procs, out):
    """Calls made inside a signal handler are reported like any other call."""
    n = 10
    m = procs.popen([mh.MHOOKD, "-s", strategy, "--json", "-o", out, "-f", "sig_fn", "--"]
                    + sigtarget(n, "--wait-usr1"))
    pid = int(mh.readline(m).split()[1])
    os.kill(pid, signal.SIGUSR1)
    text, calls = expected(n, usr1=1)
    assert "".join(mh.readline(m) + "\n" for _ in range(3)) == text
    assert mh.wait(m) == 0, m.stderr.read()
    args = [int(c["args"][0], 16) for c in mh.of(mh.read_events(out), "call")]
    assert args == list(range(n)) + [2000]


# A trap of ours inside the target's SIGTRAP handler (swbp, hwbp) or SIGSEGV handler (nx)
# hits a blocked signal, and the kernel resets the handler to SIG_DFL before mhookd sees the
# stop (force_sig). mhookd remembers the handler when the target's own signal is delivered
# and puts it back: the second raise(SIGTRAP) must reach the handler again.
def test_hooked_call_inside_sigtrap_handler(strategy, out):
    n = 20
    text, calls = expected(n, trap_calls=True)
    plain = mh.run(sigtarget(n, "--trap-calls"))
    assert plain.stdout == text
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "sig_fn", "--"]
                  + sigtarget(n, "--trap-calls"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == text
    assert mh.counts(mh.read_events(out)) == {"sig_fn": calls}


@pytest.mark.sanitize
def test_usr1_from_outside(strategy, procs, out):
    n = 200
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-c", "--json", "-o", out, "-f", "sig_fn", "--"]
                    + sigtarget(n, "--wait-usr1"))
    line = mh.readline(m)
    assert line.startswith("waiting ")
    pid = int(line.split()[1])
    os.kill(pid, signal.SIGUSR1)
    text, calls = expected(n, usr1=1)
    rest = "".join(mh.readline(m) + "\n" for _ in range(3))
    assert rest == text
    assert mh.wait(m) == 0, m.stderr.read()
    assert mh.counts(mh.read_events(out)) == {"sig_fn": calls}


def test_usr1_storm(strategy, out):
    """Another thread sends SIGUSR1 500 times (one at a time, each waited for) while the
    main thread runs through the breakpoint: every signal is delivered exactly once."""
    n, k = 3000, 500
    text, calls = expected(n, usr1=k)
    plain = mh.run(sigtarget(n, "--storm", k))
    assert plain.stdout == text
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "sig_fn", "--"]
                  + sigtarget(n, "--storm", k))
    assert r.returncode == 0, r.stderr
    assert r.stdout == text
    assert mh.counts(mh.read_events(out)) == {"sig_fn": calls}


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_sigstop_sigcont(strategy, procs, out):
    """Group-stop while hooked: SIGSTOP stops the target (mhookd must not resume it), SIGCONT
    resumes it, and the counts stay exact."""
    from test_counter import BOTH, check_summaries, counter, total
    threads, iters = 2, 20000
    m = procs.popen([mh.MHOOKD, "-s", strategy, "--json", "-c", "-o", out] + BOTH + ["--"]
                    + counter(threads, iters, "--wait"))
    line = mh.readline(m)
    pid = int(line.split()[1])
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(m)
    time.sleep(0.05)
    os.kill(pid, signal.SIGSTOP)
    time.sleep(0.5)
    assert m.poll() is None
    assert proc_state(pid) in ("T", "t"), proc_state(pid)
    # stopped means stopped: no progress while the group is stopped
    utime = lambda: sum(int(open("/proc/%d/task/%s/stat" % (pid, tid)).read().rsplit(")", 1)[1].split()[11])
                        for tid in os.listdir("/proc/%d/task" % pid))
    u1 = utime()
    time.sleep(0.3)
    assert utime() == u1
    os.kill(pid, signal.SIGCONT)
    assert mh.readline(m) == "total=%d" % total(threads, iters)
    assert mh.wait(m) == 0, m.stderr.read()
    check_summaries(mh.read_events(out), threads, iters, strategy=strategy)


def test_attach_to_stopped_process(strategy, procs, out):
    """A target in group-stop stays stopped while mhookd attaches and arms its hooks; after
    SIGCONT it runs hooked, counted exactly."""
    from test_counter import BOTH, check_summaries, counter, total
    threads, iters = 2, 500
    t = procs.popen(counter(threads, iters, "--wait"))
    assert mh.readline(t) == "ready %d" % t.pid
    os.kill(t.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while proc_state(t.pid) != "T":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(t.pid), "--json", "-c", "-o", out]
                    + BOTH, stdin=mh.subprocess.DEVNULL)
    mh.wait_for_file_event(out, "ready", m)
    time.sleep(0.2)
    assert proc_state(t.pid) in ("T", "t"), "mhookd resumed a stopped target"
    os.kill(t.pid, signal.SIGCONT)
    mh.send_line(t)
    assert mh.readline(t, timeout=10) == "total=%d" % total(threads, iters)
    assert mh.wait(t) == 0
    assert mh.wait(m) == 0, m.stderr.read()
    check_summaries(mh.read_events(out), threads, iters, strategy=strategy)


def test_detach_leaves_stopped_process_stopped(strategy, procs, out):
    from test_counter import counter, total
    t = procs.popen(counter(1, 10, "--wait"))
    assert mh.readline(t) == "ready %d" % t.pid
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(t.pid), "--json", "-c", "-o", out,
                     "-f", "counter_exe_fn"], stdin=mh.subprocess.DEVNULL)
    mh.wait_for_file_event(out, "ready", m)
    os.kill(t.pid, signal.SIGSTOP)
    time.sleep(0.2)
    assert proc_state(t.pid) in ("T", "t")
    assert mh.interrupt(m) == 0, m.stderr.read()
    time.sleep(0.1)
    assert proc_state(t.pid) == "T", "not stopped after detach"
    os.kill(t.pid, signal.SIGCONT)
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % total(1, 10)
    assert mh.wait(t) == 0


FDS = """import os
fds = sorted(int(f) for f in os.listdir('/proc/self/fd'))
st = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)
print(fds, st['SigBlk'], st['SigIgn'])
os.getppid()
"""


def test_launch_inherits_no_fds_or_masks(tmp_path, out):
    """A launched command inherits none of mhookd's file descriptors or signal
    masks: it sees what it would see started directly."""
    script = tmp_path / "fds.py"
    script.write_text(FDS)
    cmd = [mh.PYTHON, "-S", str(script)]
    plain = mh.run(cmd)
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "getppid", "--"] + cmd)
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    assert mh.counts(mh.read_events(out)) == {"getppid": 1}


def test_launch_passes_on_what_it_inherited(tmp_path, out):
    """What mhookd itself inherited reaches the command as if started directly: a
    descriptor without close-on-exec (the shell's `3>log`), an ignored SIGHUP (nohup) and
    a blocked SIGUSR2. mhookd's own -o file and its blocked signals do not."""
    script = tmp_path / "fds.py"
    script.write_text(FDS + "os.write(int(os.environ['LOGFD']), b'through\\n')\n")
    log = tmp_path / "log"

    def prepare():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})

    def start(argv):
        fd = os.open(str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            env = dict(os.environ, LOGFD=str(fd))
            return mh.run(argv, pass_fds=(fd,), preexec_fn=prepare, env=env), fd
        finally:
            os.close(fd)

    cmd = [mh.PYTHON, "-S", str(script)]
    plain, fd = start(cmd)
    hooked, hooked_fd = start([mh.MHOOKD, "-c", "--json", "-o", out, "-f", "getppid", "--"]
                              + cmd)
    assert plain.returncode == 0, plain.stderr
    assert hooked.returncode == 0, hooked.stderr
    assert fd == hooked_fd
    fds, blocked, ignored = plain.stdout.rsplit("]", 1)[0] + "]", *plain.stdout.split()[-2:]
    assert str(fd) in fds, plain.stdout
    assert int(ignored, 16) & (1 << (signal.SIGHUP - 1)), plain.stdout
    assert int(blocked, 16) & (1 << (signal.SIGUSR2 - 1)), plain.stdout
    assert hooked.stdout == plain.stdout
    assert log.read_text() == "through\nthrough\n"
    assert mh.counts(mh.read_events(out)) == {"getppid": 1}


@pytest.mark.sanitize
def test_fault_at_hooked_entry_reaches_handler(strategy, out):
    """sig_load's first instruction loads through its argument, NULL here: the fault comes
    from the hooked entry itself, run out of line (swbp), single-stepped (step), from the
    code cache (nx) or in place (hwbp). Each one must reach the target's SIGSEGV handler
    with the handler intact, and count as one call. Before, swbp and step stepped the
    faulting copy again with SIGSEGV blocked, and the kernel killed the target."""
    k = 40
    plain = mh.run(sigtarget(3, "--segv", k))
    assert plain.returncode == 0 and "segv_handler=%d\n" % k in plain.stdout
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "sig_load", "--"]
                  + sigtarget(3, "--segv", k))
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    assert mh.counts(mh.read_events(out)) == {"sig_load": k}
