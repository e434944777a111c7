"""Children of a hooked process (fork, posix_spawn, system, vfork+exec) inherit the
breakpoint bytes. They must run normally and exit with the right status, and the parent's
count stays exact: the fork child is cleaned and detached before it runs (no -F yet), so
its calls are not reported. Every strategy (hwbp: the kernel gives a new task no debug
registers; nx: a fork child inherits the non-executable pages, which mhookd restores)."""

import re
import signal
import time

import pytest

import mh


def forker(*args):
    return [mh.target("forker")] + [str(a) for a in args]


@pytest.mark.sanitize
def test_fork(strategy, out):
    n, m = 200, 150
    plain = mh.run(forker("fork", n, m))
    assert plain.returncode == 0
    s = n * (n - 1) // 2 + sum(1000 + i for i in range(n))
    assert plain.stdout == "child status=7\nparent fork_fn=%d sum=%d\n" % (2 * n, s)
    r = mh.mhookd(["-s", strategy, "--json", "-o", out, "-f", "fork_fn", "--"]
                  + forker("fork", n, m))
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    assert r.stderr == ""
    ev = mh.read_events(out)
    pid = mh.of(ev, "ready")[0]["pid"]
    calls = mh.of(ev, "call")
    assert [c["pid"] for c in calls] == [pid] * (2 * n), "calls from the child were reported"
    assert [int(c["args"][0], 16) for c in calls] == list(range(n)) + [1000 + i for i in range(n)]
    assert mh.counts(ev) == {"fork_fn": 2 * n}


@pytest.mark.sanitize
def test_spawn_system_vfork(strategy, out):
    n = 200
    plain = mh.run(forker("spawn", n))
    assert plain.returncode == 0
    s = n * (n - 1) // 2 + sum(1000 + i for i in range(n))
    assert plain.stdout == ("child 3\nposix_spawn status=4\nsystem status=3\nchild 3\n"
                            "vfork status=5\nparent fork_fn=%d sum=%d\n" % (2 * n, s))
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "fork_fn", "--"]
                  + forker("spawn", n))
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    assert r.stderr == ""
    assert mh.counts(mh.read_events(out)) == {"fork_fn": 2 * n}


def test_fork_hooked_libc(strategy, out):
    """Also hook execve, which the posix_spawn, system() and vfork children call while
    they still run in the parent's memory, so they hit the parent's breakpoint: they must
    still exec and exit right, and the parent's count of fork_fn stays exact."""
    n = 50
    plain = mh.run(forker("spawn", n))
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "fork_fn",
                   "-f", "libc:execve", "--"] + forker("spawn", n))
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    c = mh.counts(mh.read_events(out))
    assert c["fork_fn"] == 2 * n


def test_spawn_system_vfork_followed(strategy, out):
    """-F: the posix_spawn and vfork+exec children run in the parent's memory until they
    exec (shadows), then are hooked again in their own program: each `forker child` calls
    fork_fn 3 times under its own pid; system()'s sh defines no fork_fn."""
    n = 20
    plain = mh.run(forker("spawn", n))
    r = mh.mhookd(["-s", strategy, "-F", "-c", "--json", "-o", out, "-f", "fork_fn", "--"]
                  + forker("spawn", n))
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    events = mh.read_events(out)
    assert len(mh.of(events, "exec")) == 3
    s = mh.summaries(events)["fork_fn"]
    assert s["calls"] == 2 * n + 6
    assert sorted(v for v in s["per_pid"].values() if v) == [3, 3, 2 * n]


@pytest.mark.sanitize
def test_stop_during_vfork(strategy, procs):
    """SIGTERM while the target waits inside vfork for a child that sleeps in its memory:
    ptrace cannot stop a parent there, and holding the child would keep it there forever.
    mhookd must say that it waits, detach from the child, take the parent as soon as the
    child exits, clear its hooks (hwbp: its debug registers) and exit; the program then
    finishes unhooked with its usual output."""
    plain = mh.run(forker("vfork", 3, 1500))
    assert plain.stdout == "vforking\nvfork status=6\nparent fork_fn=6 sum=3006\n"
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-c", "-f", "fork_fn", "--"]
                    + forker("vfork", 3, 1500))
    assert mh.readline(m) == "vforking"
    time.sleep(0.3)  # into the child's sleep
    assert mh.interrupt(m, signal.SIGTERM) == 0, m.stderr.read()
    assert [mh.readline(m), mh.readline(m)] == ["vfork status=6", "parent fork_fn=6 sum=3006"]
    err = m.stderr.read()
    assert re.search(r"mhookd: thread \d+ waits in vfork for its child \d+; mhookd detaches "
                     r"from it once the child execs or exits\n", err), err
    assert re.search(r"^ +3 +fork_fn +forker", err, re.M), err


@pytest.mark.parametrize("mode", ["vmcall", "clonevm"])
def test_children_sharing_memory_counted(strategy, mode, out):
    """A vfork child and a clone(CLONE_VM) child (a process sharing the parent's memory)
    call the hooked function before they exit. With -F each of their calls is reported
    under its own pid, under every strategy (hwbp: the kernel gives the child no debug
    registers, so mhookd sets them at its first stop); without -F they run hooked but
    are not counted."""
    n, m = 100, 150
    plain = mh.run(forker(mode, n, m))
    status = "vfork status=6" if mode == "vmcall" else "clone status=8"
    s = n * (n - 1) // 2 + sum(100 + i for i in range(m)) + sum(1000 + i for i in range(n))
    assert plain.stdout == "%s\nparent fork_fn=%d sum=%d\n" % (status, 2 * n + m, s)
    r = mh.mhookd(["-s", strategy, "-F", "-c", "--json", "-o", out, "-f", "fork_fn", "--"]
                  + forker(mode, n, m))
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    summary = mh.summaries(mh.read_events(out))["fork_fn"]
    assert summary["calls"] == 2 * n + m
    assert sorted(summary["per_pid"].values()) == [m, 2 * n]
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "fork_fn", "--"]
                  + forker(mode, n, m))
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    assert mh.counts(mh.read_events(out)) == {"fork_fn": 2 * n}
