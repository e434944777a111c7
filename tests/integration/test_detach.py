"""Detach: SIGINT, SIGTERM and --duration remove every breakpoint and detach. Afterwards
every executable mapping of the target is byte-identical to a snapshot taken before the
attach, every file mapping has its permissions back (nx mprotects code pages), and the
target keeps working (its output stays right). Every test runs once per strategy."""

import signal
import time

import pytest

import mh
from test_counter import BOTH, check_strategy, check_summaries, counter, total


@pytest.mark.sanitize
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_detach_after_work(sig, strategy, procs, out):
    threads, iters = 4, 500
    t = procs.popen(counter(threads, iters, "--wait", "--linger"))
    line = mh.readline(t)
    pid = t.pid
    assert line == "ready %d" % pid
    before = mh.snapshot(pid)
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(pid), "--json", "-c", "-o", out]
                    + BOTH)
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % total(threads, iters)
    assert mh.readline(t) == "done"
    assert mh.interrupt(m, sig) == 0, m.stderr.read()
    assert m.stderr.read() == ""
    check_summaries(mh.read_events(out), threads, iters, strategy=strategy)
    assert t.poll() is None, "target died after detach"
    mh.assert_restored(before, pid)
    # not traced any more
    status = open("/proc/%d/status" % pid).read()
    assert "\nTracerPid:\t0\n" in status
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % total(threads, iters)
    assert mh.wait(t) == 0


def test_detach_while_calls_run(strategy, procs, out):
    """SIGINT while four threads are hitting the breakpoints as fast as they can: no call
    may be lost or broken by the detach, so the total is still right."""
    threads, iters = 4, 400000
    t = procs.popen(counter(threads, iters, "--wait", "--linger"))
    assert mh.readline(t) == "ready %d" % t.pid
    before = mh.snapshot(t.pid)
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(t.pid), "--json", "-c", "-o", out]
                    + BOTH)
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(t)
    time.sleep(0.7)
    assert t.poll() is None
    assert mh.interrupt(m) == 0, m.stderr.read()
    assert mh.readline(t) == "total=%d" % total(threads, iters)
    assert mh.readline(t) == "done"
    counts = mh.counts(mh.read_events(out))
    for f in ("counter_exe_fn", "counter_lib_fn"):
        assert 0 < counts[f] < threads * iters, counts
    mh.assert_restored(before, t.pid)
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % total(threads, iters)
    assert mh.wait(t) == 0


def test_duration_attach(strategy, procs, out):
    threads, iters = 2, 400000
    t = procs.popen(counter(threads, iters, "--wait", "--linger"))
    assert mh.readline(t) == "ready %d" % t.pid
    before = mh.snapshot(t.pid)
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(t.pid), "--json", "-c", "-o", out,
                     "--duration", "1"] + BOTH)
    mh.wait_for_file_event(out, "ready", m)
    start = time.monotonic()
    mh.send_line(t)
    assert mh.wait(m) == 0, m.stderr.read()
    assert 0.8 < time.monotonic() - start < 10
    assert mh.readline(t) == "total=%d" % total(threads, iters)
    assert mh.readline(t) == "done"
    counts = mh.counts(mh.read_events(out))
    assert 0 < counts["counter_exe_fn"] < threads * iters, counts
    mh.assert_restored(before, t.pid)
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % total(threads, iters)
    assert mh.wait(t) == 0


def test_duration_launch(strategy, out):
    """Launch mode: --duration detaches, then mhookd waits for the command and exits with
    its status."""
    threads, iters = 2, 400000
    start = time.monotonic()
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "--duration", "1",
                   "-f", "counter_exe_fn", "--"] + counter(threads, iters))
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - start > 0.8
    assert r.stdout == "total=%d\n" % total(threads, iters)
    counts = mh.counts(mh.read_events(out))
    assert 0 < counts["counter_exe_fn"] < threads * iters, counts
    check_strategy(mh.summaries(mh.read_events(out))["counter_exe_fn"], strategy)


def test_sigint_launch_keeps_command(strategy, procs, out):
    """Launch mode: SIGINT to mhookd alone detaches; the command goes on unhooked and
    mhookd exits with its status."""
    threads, iters = 2, 300
    m = procs.popen([mh.MHOOKD, "-s", strategy, "--json", "-c", "-o", out] + BOTH + ["--"]
                    + counter(threads, iters, "--wait", "--linger"))
    line = mh.readline(m)
    assert line.startswith("ready ")
    pid = int(line.split()[1])
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(m)
    assert mh.readline(m) == "total=%d" % total(threads, iters)
    assert mh.readline(m) == "done"
    m.send_signal(signal.SIGINT)
    # the summaries come at detach, while the command still runs
    deadline = time.monotonic() + mh.WAIT
    while not mh.of(mh.read_events(out), "summary"):
        assert time.monotonic() < deadline, "no summary after SIGINT"
        time.sleep(0.02)
    check_summaries(mh.read_events(out), threads, iters, strategy=strategy)
    assert m.poll() is None, "mhookd exited before its command"
    assert "\nTracerPid:\t0\n" in open("/proc/%d/status" % pid).read()
    mh.send_line(m)
    assert mh.readline(m) == "total=%d" % total(threads, iters)
    assert mh.wait(m) == 0
