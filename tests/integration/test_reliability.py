"""What the target relies on must not break while it is traced, nor after: here a
process whose main thread ended with pthread_exit while its workers run on. Its leader
is then a zombie that can be neither seized nor stopped, and whose /proc files show no
memory; mhookd must trace the workers, detach on SIGINT at once, and leave them running.
Every strategy, launch and attach."""

import json
import os
import signal
import time

import pytest

import mh


def tracers(pid):
    """TracerPid of each live thread of pid (a zombie leader is left out)."""
    found = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                status = f.read()
        except OSError:
            continue
        if "\nState:\tZ" not in status:
            found[int(tid)] = int(status.split("\nTracerPid:\t")[1].split("\n")[0])
    return found


def wait_untraced(pid, timeout=mh.WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = tracers(pid)
        if t and not any(t.values()):
            return
        time.sleep(0.02)
    raise AssertionError("threads of %d still traced: %r" % (pid, tracers(pid)))


@pytest.mark.sanitize
def test_leader_exit_exact_count(strategy, out):
    r = mh.mhookd(["-s", strategy, "--json", "-c", "-o", out, "-f", "le_fn", "--",
                   mh.target("leaderexit"), "3", "300"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "leader-exits\ncalls=900\n"
    events = mh.read_events(out)
    assert not mh.of(events, "error"), events
    assert mh.counts(events)["le_fn"] == 900
    assert [e.get("status") for e in mh.of(events, "exit")] == [0]


@pytest.mark.parametrize("mode", ["launch", "attach"])
def test_leader_exit_then_sigint_detaches(strategy, mode, procs, out):
    """Before the fix, stop-all waited for ever for the zombie leader (launch), and
    attach failed with EPERM."""
    cmd = [mh.target("leaderexit"), "2", "0", "--wait"]
    args = ["-s", strategy, "--json", "-o", out, "-f", "le_fn"]
    if mode == "attach":
        target = procs.popen(cmd)
        assert mh.readline(target) == "leader-exits"
        pid = target.pid
        m = procs.popen([mh.MHOOKD] + args + ["-p", str(pid)])
    else:
        target = m = procs.popen([mh.MHOOKD] + args + ["--"] + cmd)
        assert mh.readline(m) == "leader-exits"
        pid = mh.wait_for_file_event(out, "ready", m)["pid"]
    mh.wait_for_file_event(out, "call", m, func="le_fn")
    m.send_signal(signal.SIGINT)
    if mode == "attach":
        assert mh.wait(m, 5) == 0
    wait_untraced(pid, 5)
    events = mh.read_events(out)
    assert not mh.of(events, "error"), events
    reported = mh.counts(events)["le_fn"]
    assert reported == len(mh.of(events, "call")) > 0
    # The workers run on, untraced, and end when told.
    mh.send_line(target)
    line = mh.readline(target)
    assert line.startswith("calls="), line
    assert int(line[len("calls="):]) > reported
    assert mh.wait(target) == 0
    assert mh.wait(m) == 0


def test_reports_and_target_share_stderr():
    """JSON lines on a stderr pipe that the target writes to as well: every line of each
    stays whole, because mhookd writes whole lines of at most PIPE_BUF at a time (stdio
    alone would write 64 KiB buffers that end in the middle of a line)."""
    n = 20000
    r = mh.mhookd(["--json", "-f", "chat_fn", "--", mh.target("chatter"), str(n)])
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == "sum=%d\n" % (n * (n - 1))
    ours, theirs = [], []
    for line in r.stderr.splitlines():
        (ours if line.startswith("{") else theirs).append(line)
    events = [json.loads(line) for line in ours]  # a split line fails to parse
    assert len(mh.of(events, "call")) == n
    assert theirs == ["chatter line %06d %s" % (i, "." * 46) for i in range(n)]


ACTIONS = {"errno": "ERRNO", "kill": "KILL_PROCESS", "trap": "TRAP"}
# What each strategy injects: swbp and hwbp map one scratch page (hwbp only for the
# breakpoint that follows dlopen, so it hooks on without it); nx maps pages and mprotects.
NEEDS = {("swbp", "mmap"), ("nx", "mmap"), ("nx", "mprotect")}


@pytest.mark.sanitize
@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("call", ["mmap", "mprotect"])
def test_target_seccomp_filter(strategy, action, call, procs, out):
    """A target whose own seccomp filter kills, traps or fails mmap or mprotect. Before,
    mhookd's injected syscall killed it (KILL_PROCESS), or took a trapped call's result
    for an address. Now the filter is read and run first: the target always survives with
    its output right and no SIGSYS, and mhookd says why it did not inject, refusing the
    strategy only where it needs that syscall."""
    target = procs.popen([mh.target("sectarget"), action, call, "100"])
    assert mh.readline(target) == "ready %d" % target.pid
    assert mh.readline(target) == "filtered"
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(target.pid), "--json", "-o", out,
                     "-f", "sec_fn"])
    refused = (strategy, call) in NEEDS
    if refused:
        assert mh.wait(m) == 2
    else:
        mh.wait_for_file_event(out, "ready", m)
    mh.send_line(target)
    assert mh.readline(target) == "calls=100 sum=14850 sigsys=0"
    assert mh.wait(target) == 0
    if not refused:
        assert mh.wait(m) == 0
        assert mh.counts(mh.read_events(out)) == {"sec_fn": 100}
    err = m.stderr.read()
    said = "mhookd: pid %d: its seccomp filter answers %s with %s, so mhookd does not run " \
           "%s in it" % (target.pid, call, ACTIONS[action], call)
    assert (said in err) == (refused or call == "mmap"), err


def test_ctrl_c_reaches_command_and_mhookd(strategy, procs):
    """Ctrl-C in a terminal signals mhookd and a launched command at once: mhookd detaches
    while the command's threads die. Before, a thread that ended during the detach stayed
    a zombie for mhookd to reap, the leader could never be reported, and mhookd waited for
    ever (about 1 run in 20). Now it exits with the command's status (130), no error."""
    for _ in range(20):
        m = procs.popen([mh.MHOOKD, "-s", strategy, "-o", os.devnull, "-f", "churn_fn",
                         "-f", "libc:pthread_create", "--", mh.target("churn"), "0", "4",
                         "200"], start_new_session=True)
        time.sleep(0.25)
        os.killpg(m.pid, signal.SIGINT)
        assert mh.wait(m, 20) == 128 + signal.SIGINT
        err = m.stderr.read()
        assert "mhookd:" not in err, err


# The target is killed (SIGKILL from outside) while mhookd detaches from it: its leader's
# exit is not reported until its killed threads are reaped, and mhookd, waiting on the
# leader for an injected munmap, waited for ever. It must exit at once, and say nothing of
# scratch pages left behind (they went with the process).
@pytest.mark.parametrize("delay_ms", [0, 0.5, 1, 2, 4])
def test_target_killed_during_detach(strategy, delay_ms, procs, out):
    t = procs.popen([mh.target("counter"), "2", "999999", "--wait", "--repeat", "100"])
    assert mh.readline(t) == "ready %d" % t.pid
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(t.pid), "--json", "-o", out,
                     "-f", "counter_exe_fn", "-f", "counter_lib_fn"])
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(t)
    mh.wait_for_file_event(out, "call", m, func="counter_lib_fn")
    m.send_signal(signal.SIGINT)
    time.sleep(delay_ms / 1000.0)
    t.kill()
    assert mh.wait(m, timeout=10) in (0, 137), m.stderr.read()
    assert "stay mapped" not in m.stderr.read()
    assert t.wait(timeout=10) == -signal.SIGKILL
