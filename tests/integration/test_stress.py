"""Threads created and exiting while hooks are armed and removed: exact counts in launch
mode, and a target that survives many attach/detach cycles with its code byte-identical
and its protections as they were. Every strategy.
These found real races (a pending int3 SIGTRAP at stop-all, syscalls injected from a
clone-event stop, stale clone events), so they stay."""

import os
import signal
import subprocess
import time

import pytest

import mh


@pytest.mark.sanitize
def test_thread_churn_exact_count(strategy, out):
    rounds, threads, iters = 40, 4, 50
    r = mh.mhookd(["-s", strategy, "--json", "-c", "-o", out, "-f", "churn_fn",
                   "-f", "libc:pthread_create", "--",
                   mh.target("churn"), str(rounds), str(threads), str(iters)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "calls=%d\n" % (rounds * threads * iters)
    counts = mh.counts(mh.read_events(out))
    assert counts["churn_fn"] == rounds * threads * iters
    assert counts["pthread_create"] == rounds * threads


def test_repeated_attach_detach_under_churn(strategy, procs, tmp_path):
    """25 cycles: attach, see calls, detach on SIGINT or SIGTERM. Each cycle waits for a
    reported call rather than for a fixed time, so a loaded machine only makes it slower."""
    t = procs.popen([mh.target("churn"), "0", "4", "200"])
    time.sleep(0.2)
    before = mh.snapshot(t.pid)
    for i in range(25):
        out = str(tmp_path / ("r%d" % i))
        m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(t.pid), "--json", "-o", out,
                         "-f", "churn_fn", "-f", "libc:pthread_create"],
                        stdin=subprocess.DEVNULL)
        # A call of churn_fn, not just any call: pthread_create may come first.
        mh.wait_for_file_event(out, "call", m, func="churn_fn")
        assert mh.interrupt(m, signal.SIGINT if i % 2 else signal.SIGTERM) == 0
        stderr = m.stderr.read()
        assert "mhookd:" not in stderr, stderr
        events = mh.read_events(out)
        assert not mh.of(events, "error"), events
        calls = mh.counts(events)
        assert calls["churn_fn"] == len([e for e in mh.of(events, "call")
                                         if e["func"] == "churn_fn"]) > 0
        os.kill(t.pid, signal.SIGUSR1)
        assert t.poll() is None, "target died after attach/detach cycle %d" % i
    mh.assert_restored(before, t.pid)
    t.send_signal(signal.SIGTERM)
    assert mh.wait(t) == 0
