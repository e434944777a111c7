"""The nx strategy's own cases (the shared suite runs nx through the `strategy` fixture
too): exact counts in the main binary and a library, 1 and 8 threads, launch and attach;
protections given back at detach with the target still running; collateral stops
reported for a hot loop on the hooked page; the target's own SIGSEGVs (handler on the
guarded page) delivered; a fork child unharmed; the target mprotect()ing its own guarded
page; every hazard hooked at once."""

import collections
import os
import re
import signal

import pytest

import mh

EXE_FN, LIB_FN = "counter_exe_fn", "counter_lib_fn"


def counter(*args):
    return [mh.target("counter")] + [str(a) for a in args]


def total(threads, iters, repeat=1):
    return repeat * sum(3 * (t * 1000000 + i) + 1 for t in range(threads) for i in range(iters))


def nx(args, **kw):
    return mh.mhookd(["-s", "nx"] + list(args), **kw)


def check_calls(events, threads, iters):
    """Exactly iters calls of each function per thread, arguments in order."""
    per = collections.defaultdict(list)
    for ev in mh.of(events, "call"):
        per[(ev["tid"], ev["func"])].append(int(ev["args"][0], 16))
    assert len(per) == 2 * threads, sorted(per)
    bases = set()
    for (tid, func), args in per.items():
        base = args[0]
        assert args == list(range(base, base + iters)), (tid, func)
        bases.add((func, base))
    assert bases == {(f, t * 1000000) for f in (EXE_FN, LIB_FN) for t in range(threads)}


@pytest.mark.sanitize
@pytest.mark.parametrize("threads", [1, 8])
def test_launch_exact(threads, out):
    iters = 300
    r = nx(["--json", "-o", out, "-f", EXE_FN, "-f", "libcounter:" + LIB_FN, "--"]
           + counter(threads, iters))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "total=%d\n" % total(threads, iters)
    assert r.stderr == ""
    ev = mh.read_events(out)
    assert mh.counts(ev) == {EXE_FN: threads * iters, LIB_FN: threads * iters}
    for s in mh.summaries(ev).values():
        assert s["strategy"] == "nx" and "collateral" in s, s
    check_calls(ev, threads, iters)


@pytest.mark.parametrize("threads", [1, 8])
def test_attach_exact_and_restored(threads, procs, out):
    iters = 200
    t = procs.popen(counter(threads, iters, "--wait", "--linger"))
    assert mh.readline(t) == "ready %d" % t.pid
    before = mh.snapshot(t.pid)
    m = procs.popen([mh.MHOOKD, "-s", "nx", "-p", str(t.pid), "--json", "-o", out,
                     "-f", EXE_FN, "-f", "libcounter:" + LIB_FN])
    mh.wait_for_file_event(out, "ready", m)
    # guarded while attached: the hooked pages lost PROT_EXEC
    guarded = [p for s, e, p, path in mh.maps(t.pid) if path.endswith("/counter")]
    assert any("x" not in p for p in guarded if p.startswith("r-"))
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % total(threads, iters)
    assert mh.readline(t) == "done"
    assert mh.interrupt(m) == 0, m.stderr.read()
    ev = mh.read_events(out)
    assert mh.counts(ev) == {EXE_FN: threads * iters, LIB_FN: threads * iters}
    check_calls(ev, threads, iters)
    # detached: protections and code as before, and the target keeps working
    mh.assert_restored(before, t.pid)
    assert "\nTracerPid:\t0\n" in open("/proc/%d/status" % t.pid).read()
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % total(threads, iters)
    assert mh.wait(t) == 0


def test_detach_while_calls_run(procs, out):
    """SIGINT in the middle of the work: threads inside the code cache are moved back to
    original code, pending faults are taken in, the pages get PROT_EXEC back."""
    t = procs.popen(counter(4, 100000, "--wait", "--linger", "--repeat", "5"))
    assert mh.readline(t) == "ready %d" % t.pid
    before = mh.snapshot(t.pid)
    m = procs.popen([mh.MHOOKD, "-s", "nx", "-p", str(t.pid), "--json", "-o", out,
                     "-f", EXE_FN, "-f", "libcounter:" + LIB_FN])
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(t)
    mh.wait_for_text(out, r'"event": ?"call"', m)
    assert mh.interrupt(m) == 0, m.stderr.read()
    mh.assert_restored(before, t.pid)
    assert mh.readline(t, timeout=120) == "total=%d" % total(4, 100000, 5)
    assert mh.readline(t) == "done"
    mh.send_line(t)
    assert mh.readline(t, timeout=120) == "total=%d" % total(4, 100000, 5)
    assert mh.wait(t) == 0


def test_collateral_reported(out):
    """bench_target's loop shares the page of bench_fn: its returns into the page are
    collateral stops, about one per call, and chaining keeps them at that."""
    n = 2000
    r = nx(["--json", "-c", "-o", out, "-f", "bench_fn", "--", mh.target("bench_target"),
            str(n)])
    assert r.returncode == 0, r.stderr
    assert "sum=%d" % (n * (n + 1) // 2) in r.stdout
    s = mh.summaries(mh.read_events(out))["bench_fn"]
    assert s["calls"] == n
    assert n <= s["collateral"] <= n + 100, s


@pytest.mark.sanitize
def test_own_sigsegv_delivered(out):
    """The target's own NULL dereferences reach its SIGSEGV handler, which lives on the
    guarded page (so each handler run faults there with SIGSEGV blocked, and the kernel
    resets the handler, which mhookd undoes), every time."""
    n = 50
    plain = mh.run([mh.target("nxtarget"), "segv", str(n)])
    assert plain.returncode == 0 and plain.stdout == "nx_fn=%d sum=%d segv=%d\n" % (n, n, n)
    r = nx(["--json", "-c", "-o", out, "-f", "nx_fn", "--", mh.target("nxtarget"), "segv",
            str(n)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    assert mh.counts(mh.read_events(out)) == {"nx_fn": n}


def test_fork_child_unharmed(out):
    n, m = 100, 50
    plain = mh.run([mh.target("forker"), "fork", str(n), str(m)])
    r = nx(["--json", "-o", out, "-f", "fork_fn", "--", mh.target("forker"), "fork", str(n),
            str(m)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    assert r.stderr == ""
    assert mh.counts(mh.read_events(out)) == {"fork_fn": 2 * n}


def test_target_mprotects_its_page(out):
    """The target makes its hooked page writable and executable, then executable again:
    mhookd notices (within 100 ms), guards it again, and later calls are counted."""
    n = 100
    plain = mh.run([mh.target("nxtarget"), "mprotect", str(n)])
    assert plain.returncode == 0
    r = nx(["--json", "-c", "-o", out, "-f", "nx_fn", "--", mh.target("nxtarget"),
            "mprotect", str(n)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    ev = mh.read_events(out)
    assert not mh.of(ev, "error"), ev
    assert mh.counts(ev) == {"nx_fn": 2 * n}


@pytest.mark.sanitize
def test_all_hazards(out):
    from test_hazards import FUNCS, K, expected_count
    plain = mh.run([mh.target("hazards"), str(K)])
    args = ["--json", "-c", "-o", out]
    for f in FUNCS:
        args += ["-f", f]
    r = nx(args + ["--", mh.target("hazards"), str(K)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    assert r.stderr == ""
    assert mh.counts(mh.read_events(out)) == {f: expected_count(f, K) for f in FUNCS}


def test_refused_address_not_a_boundary():
    r = nx(["-f", EXE_FN + "+0x1", "--"] + counter(1, 1))
    assert r.returncode == 2
    assert "instruction boundary" in mh.assert_error_line(r.stderr)


def test_read_implies_exec_refused(procs):
    """Under READ_IMPLIES_EXEC no page can be made non-executable: a clear refusal before
    anything is touched, and the target is unharmed. The target sets the personality
    itself (exec drops setarch -X's for a 64-bit program)."""
    t = procs.popen([mh.target("nxtarget"), "read-implies-exec", "0"])
    assert mh.readline(t) == "ready %d" % t.pid
    assert int(open("/proc/%d/personality" % t.pid).read(), 16) & 0x0400000
    before = mh.snapshot(t.pid)
    r = nx(["-p", str(t.pid), "-f", "nx_fn"])
    assert r.returncode == 2, r
    assert "READ_IMPLIES_EXEC" in mh.assert_error_line(r.stderr)
    mh.assert_restored(before, t.pid)
    mh.send_line(t)
    assert mh.wait(t) == 0


def test_mdwe_refused(procs):
    """PR_SET_MDWE refuse-exec-gain: a guarded page could never be made executable again,
    so mhookd refuses before touching anything, and the target is unharmed."""
    t = procs.popen([mh.target("nxtarget"), "mdwe", "0"])
    line = mh.readline(t)
    if line == "no-mdwe":
        pytest.skip("this kernel has no PR_SET_MDWE")
    assert line == "ready %d" % t.pid
    before = mh.snapshot(t.pid)
    r = nx(["-p", str(t.pid), "-f", "nx_fn"])
    assert r.returncode != 0
    assert "MDWE" in mh.assert_error_line(r.stderr)
    mh.assert_restored(before, t.pid)
    mh.send_line(t)
    assert mh.wait(t) == 0


def test_collateral_per_page(out):
    """Collateral stops are counted per page: two hooks on one page (sigkeep's keep_fn and
    print_state) both name it in "pages", with the page's total, which their own counts
    add up to."""
    r = nx(["--json", "-c", "-o", out, "-f", "keep_fn", "-f", "print_state", "--",
            mh.target("sigkeep"), "ignore", "trap", "20"])
    assert r.returncode == 0, r.stderr
    rows = mh.summaries(mh.read_events(out))
    assert rows["keep_fn"]["calls"] == 20 and rows["print_state"]["calls"] == 2, rows
    pages = [rows[f]["pages"] for f in ("keep_fn", "print_state")]
    page = int(rows["keep_fn"]["addr"], 16) & ~0xfff
    total = rows["keep_fn"]["collateral"] + rows["print_state"]["collateral"]
    assert total > 0
    assert pages[0] == pages[1] == [{"page": "0x%x" % page, "collateral": total}], pages


def test_collateral_text_lines():
    """The text summary has a line per page, and says when the page's other code stops
    ten times as often as its hooks are called, suggesting swbp; bench_target's loop
    (about one collateral stop per call) gets no such advice."""
    r = nx(["-c", "-f", "keep_fn", "-f", "print_state", "--", mh.target("sigkeep"),
            "ignore", "trap", "1"])
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("page ")]
    assert len(lines) == 1, r.stderr
    m = re.match(r"^page 0x[0-9a-f]+000 in sigkeep: (\d+) collateral stops for 3 calls "
                 r"\((keep_fn, print_state|print_state, keep_fn)\)$", lines[0])
    assert m, lines[0]
    advice = "  the page's other code stops 10 times as often as its hooks are called: " \
             "swbp (-s swbp) stops only on calls"
    assert (advice in r.stderr.splitlines()) == (int(m.group(1)) >= 30), r.stderr
    assert int(m.group(1)) >= 30, r.stderr  # its whole script runs on the page
    r = nx(["-c", "-f", "bench_fn", "--", mh.target("bench_target"), "2000"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"^page 0x[0-9a-f]+ in bench_target: \d+ collateral stops for 2000 "
                     r"calls \(bench_fn\)$", r.stderr, re.M), r.stderr
    assert "-s swbp" not in r.stderr


def test_refuses_page_of_signal_watch(out):
    """mhookd's breakpoint on pthread_sigmask's syscall keeps the target's signal handling
    (sigstate): nx cannot guard its page, and says so, naming the way out; swbp hooks the
    function itself, whose entry is not the syscall, and counts every call."""
    r = nx(["-c", "-f", "pthread_sigmask", "--", mh.target("sigkeep"), "block", "trap", "1"])
    assert r.returncode == 2
    line = mh.assert_error_line(r.stderr)
    assert "breakpoint in pthread_sigmask" in line and "swbp or hwbp" in line, line
    r = mh.mhookd(["-s", "swbp", "-c", "--json", "-o", out, "-f", "pthread_sigmask",
                   "--", mh.target("sigkeep"), "block", "trap", "1"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == mh.run([mh.target("sigkeep"), "block", "trap", "1"]).stdout
    # sigkeep's own: the block, a query in each of two print_state, the unblock
    assert mh.counts(mh.read_events(out)) == {"pthread_sigmask": 4}
