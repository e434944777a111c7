"""pytest fixtures for the mhookd integration tests (helpers live in mh.py).

The mhookd under test is $MHOOKD, default <repo>/build/mhookd; the targets are in
build/targets (`make all targets`). A missing binary fails the tests rather than skipping
them, so an incomplete build can never pass."""

import os

import pytest

import mh


@pytest.fixture(scope="session", autouse=True)
def built():
    missing = [p for p in (mh.MHOOKD, mh.target("counter"), mh.target("hazards"),
                           mh.target("sigtarget"), mh.target("forker"))
               if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("not built (run `make all targets`): %s" % ", ".join(missing))


@pytest.fixture(params=mh.STRATEGIES)
def strategy(request):
    """Each strategy in turn (swbp, hwbp, nx). A test that takes it
    passes `-s` + strategy to mhookd and expects the same exact counts and arguments from
    every strategy. A strategy this mhookd does not know yet skips, with the reason, so
    the suite starts testing it by itself once it exists."""
    why = mh.strategy_unavailable(request.param)
    if why:
        pytest.skip(why)
    return request.param


@pytest.fixture
def procs():
    p = mh.Procs()
    yield p
    p.cleanup()


@pytest.fixture
def out(tmp_path):
    """A path for mhookd's -o report file."""
    return str(tmp_path / "report")


@pytest.fixture
def waiting(procs):
    """counter --wait: a live target with known code, that we finish at the end to check
    that it still works."""
    t = procs.popen([mh.target("counter"), "2", "100", "--wait"])
    assert mh.readline(t) == "ready %d" % t.pid
    before = mh.snapshot(t.pid)
    yield t
    # left as it was: code untouched, not traced, still works
    assert t.poll() is None
    mh.assert_restored(before, t.pid)
    assert "\nTracerPid:\t0\n" in open("/proc/%d/status" % t.pid).read()
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % sum(3 * (k * 1000000 + i) + 1
                                              for k in range(2) for i in range(100))
    assert mh.wait(t) == 0
