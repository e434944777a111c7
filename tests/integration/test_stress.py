"""Threads created and exiting while hooks are armed and removed: exact counts in launch
mode, and a target that survives many attach/detach cycles with its code byte-identical
and its protections as they were. Every strategy.
These found real races (a pending int3 SIGTRAP at stop-all, syscalls injected from a
clone-event stop, stale clone events), so they stay."""

import os
import signal
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
    t = procs.popen([mh.target("churn"), "0", "4", "200"])
    time.sleep(0.2)
    before = mh.snapshot(t.pid)
    for i in range(25):
        out = str(tmp_path / ("r%d" % i))
        r = mh.mhookd(["-s", strategy, "-p", str(t.pid), "--json", "-c", "-o", out,
                       "-f", "churn_fn", "-f", "libc:pthread_create", "--duration", "0.1"])
        assert r.returncode == 0, r.stderr
        assert "mhookd:" not in r.stderr, r.stderr
        events = mh.read_events(out)
        assert not mh.of(events, "error"), events
        assert mh.counts(events)["churn_fn"] > 0
        os.kill(t.pid, signal.SIGUSR1)
        assert t.poll() is None, "target died after attach/detach cycle %d" % i
    mh.assert_restored(before, t.pid)
    t.send_signal(signal.SIGTERM)
    assert mh.wait(t) == 0
