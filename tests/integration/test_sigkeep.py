"""The target's own handling of the signals that mhookd's traps raise (SIGTRAP, and SIGSEGV
under nx) is left exactly as the target set it: ignored, blocked with a handler, blocked
in a worker that blocks everything. The kernel resets a blocked or ignored signal to
SIG_DFL, and unblocks it, whenever it forces one on a thread (an int3, a single-step, a
debug register hit, a fault on an nx page); so mhookd must raise none of its own while it
injects a syscall, and put back what a hit reset. The sigkeep target prints the
disposition and its thread's mask after the calls and after the detach, then checks that
its own raise() behaves as unhooked; its output must be that of a plain run."""

import pytest

import mh

MODES = ["ignore", "block", "worker"]
SIGS = ["trap", "segv"]


def sigkeep(mode, sig, n):
    return [mh.target("sigkeep"), mode, sig, str(n)]


def plain_output(mode, sig, n):
    r = mh.run(sigkeep(mode, sig, n))
    assert r.returncode == 0, r.stderr
    return r.stdout


def attach_detach(strategy, mode, sig, n, procs, out):
    """Attaches before the calls and detaches after them; the target's whole output."""
    t = procs.popen(sigkeep(mode, sig, n))
    lines = [mh.readline(t)]
    assert lines == ["ready"]
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(t.pid), "--json", "-c", "-o", out,
                     "-f", "keep_fn"])
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(t)
    lines += [mh.readline(t), mh.readline(t)]
    assert mh.interrupt(m) == 0, m.stderr.read()
    assert m.stderr.read() == ""
    assert mh.counts(mh.read_events(out)) == {"keep_fn": n}
    mh.send_line(t)
    lines += [mh.readline(t) for _ in range(3)]
    assert mh.wait(t) == 0
    return "".join(l + "\n" for l in lines)


# No call: what mhookd does to attach, arm, disarm and detach (mmap, mprotect, munmap
# injected into the target) must not touch it.
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sig", SIGS)
def test_attach_detach_without_calls(strategy, mode, sig, procs, out):
    assert attach_detach(strategy, mode, sig, 0, procs, out) == plain_output(mode, sig, 0)


# Hooked calls while attached, then a detach: each call is a forced trap (under nx, so is
# each fault on the guarded page), and what it reset is put back before the thread runs.
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sig", SIGS)
def test_attach_calls_detach(strategy, mode, sig, procs, out):
    n = 50
    assert attach_detach(strategy, mode, sig, n, procs, out) == plain_output(mode, sig, n)


# Launched: the target sets its signal handling itself, after mhookd has read it, so the
# shadow must follow its sigaction and pthread_sigmask calls.
@pytest.mark.sanitize
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sig", SIGS)
def test_launch_calls(strategy, mode, sig, out):
    n = 50
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "keep_fn", "--"]
                  + sigkeep(mode, sig, n))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout == plain_output(mode, sig, n)
    assert mh.counts(mh.read_events(out)) == {"keep_fn": n}
