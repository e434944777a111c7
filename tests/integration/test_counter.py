"""The bundled counter target: one function in the executable and one in libcounter.so,
1 and 8 threads, launched (-- CMD) and attached (-p), counted exactly (summaries) and call
by call (JSON call events: count per thread and every argument). The core tests run once
per strategy (the `strategy` fixture): every strategy must report the same exact counts
and arguments."""

import collections
import re
import time

import pytest

import mh

EXE_FN, LIB_FN = "counter_exe_fn", "counter_lib_fn"
BOTH = ["-f", EXE_FN, "-f", LIB_FN]


def total(threads, iters):
    """What counter prints: sum of (x + 1) + 2x over x = t*1000000 + i."""
    return sum(3 * (t * 1000000 + i) + 1 for t in range(threads) for i in range(iters))


def counter(*args):
    return [mh.target("counter")] + [str(a) for a in args]


def check_summaries(events, threads, iters, rounds=1, strategy="swbp"):
    s = mh.summaries(events)
    assert set(s) == {EXE_FN, LIB_FN}, s
    assert s[EXE_FN]["lib"] == "counter", s[EXE_FN]
    assert s[LIB_FN]["lib"] == "libcounter.so", s[LIB_FN]
    for f in (EXE_FN, LIB_FN):
        check_strategy(s[f], strategy)
        assert s[f]["calls"] == threads * iters * rounds, s[f]


def check_strategy(summary, strategy):
    """A summary names the strategy that did the work; nx also counts its collateral
    stops (stops on guarded pages that were not a hooked entry)."""
    assert summary["strategy"] == strategy, summary
    if strategy == "nx":
        c = summary.get("collateral")
        assert isinstance(c, int) and not isinstance(c, bool) and c >= 0, summary


def check_calls(events, pid, threads, iters, ready):
    """Each thread made exactly iters calls of each function, with the arguments
    t*1000000 + i in order, for one t per thread, and the t are 0..threads-1."""
    addr = {h["func"]: h["addr"] for h in ready["hooks"]}
    calls = mh.of(events, "call")
    assert len(calls) == 2 * threads * iters
    per = collections.defaultdict(list)
    for ev in calls:
        mh.check_call_event(ev, pid)
        assert ev["func"] in (EXE_FN, LIB_FN), ev
        assert ev["addr"] == addr[ev["func"]], ev
        per[(ev["tid"], ev["func"])].append(ev)
    tids = {tid for tid, _ in per}
    assert len(tids) == threads, sorted(tids)
    assert pid not in tids  # all work is done by the spawned threads
    seen = set()
    for tid in tids:
        idx = None
        for f in (EXE_FN, LIB_FN):
            evs = per[(tid, f)]
            assert len(evs) == iters, (tid, f, len(evs))
            ts = [e["ts_ns"] for e in evs]
            assert ts == sorted(ts), (tid, f)
            args = [int(e["args"][0], 16) for e in evs]
            t = args[0] // 1000000
            assert args == [t * 1000000 + i for i in range(iters)], (tid, f, args[:5])
            assert idx in (None, t)
            idx = t
        seen.add(idx)
    assert seen == set(range(threads))


@pytest.mark.parametrize("threads", [1, pytest.param(8, marks=pytest.mark.sanitize)])
def test_launch_summary(threads, strategy, out):
    iters = 1000
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out] + BOTH + ["--"]
                  + counter(threads, iters))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "total=%d\n" % total(threads, iters)
    assert r.stderr == ""
    ev = mh.read_events(out)
    assert mh.of(ev, "call") == []
    assert len(mh.of(ev, "ready")) == 1
    check_summaries(ev, threads, iters, strategy=strategy)


@pytest.mark.parametrize("threads", [1, pytest.param(8, marks=pytest.mark.sanitize)])
def test_attach_summary(threads, strategy, procs, out):
    iters = 1000
    a = mh.Attached(procs, counter(threads, iters, "--wait"), ["-s", strategy, "-c"] + BOTH, out)
    assert a.ready["pid"] == a.pid
    a.go()
    assert mh.readline(a.t) == "total=%d" % total(threads, iters)
    assert mh.wait(a.t) == 0
    assert mh.wait(a.m) == 0, a.m.stderr.read()
    assert a.m.stderr.read() == ""
    ev = mh.read_events(out)
    assert mh.of(ev, "call") == []
    check_summaries(ev, threads, iters, strategy=strategy)


def test_attach_new_threads(strategy, procs, out):
    """Threads created after the attach (TRACECLONE) are hooked too: the second round of
    --linger starts new threads."""
    threads, iters = 4, 500
    a = mh.Attached(procs, counter(threads, iters, "--wait", "--linger"),
                    ["-s", strategy, "-c"] + BOTH, out)
    a.go()
    assert mh.readline(a.t) == "total=%d" % total(threads, iters)
    assert mh.readline(a.t) == "done"
    a.go()
    assert mh.readline(a.t) == "total=%d" % total(threads, iters)
    assert mh.wait(a.t) == 0
    assert mh.wait(a.m) == 0, a.m.stderr.read()
    check_summaries(mh.read_events(out), threads, iters, rounds=2, strategy=strategy)


@pytest.mark.sanitize
@pytest.mark.parametrize("threads", [1, 8])
def test_launch_calls_json(threads, strategy, out):
    iters = 300
    t0 = time.monotonic_ns()
    r = mh.mhookd(["-s", strategy, "--json", "-o", out] + BOTH + ["--"] + counter(threads, iters))
    t1 = time.monotonic_ns()
    assert r.returncode == 0, r.stderr
    assert r.stdout == "total=%d\n" % total(threads, iters)
    ev = mh.read_events(out)
    ready = mh.of(ev, "ready")
    assert len(ready) == 1
    pid = ready[0]["pid"]
    assert ev[0]["event"] == "ready"  # nothing is reported before the hooks are armed
    assert ev[-1]["event"] == "summary"
    check_calls(ev, pid, threads, iters, ready[0])
    check_summaries(ev, threads, iters, strategy=strategy)
    assert all(h["strategy"] == strategy for h in ready[0]["hooks"]), ready[0]
    # ts_ns is CLOCK_MONOTONIC in nanoseconds
    assert all(t0 <= c["ts_ns"] <= t1 for c in mh.of(ev, "call"))


def test_attach_calls_json(strategy, procs, out):
    threads, iters = 8, 300
    a = mh.Attached(procs, counter(threads, iters, "--wait"), ["-s", strategy] + BOTH, out)
    # The reported addresses are the symbols' addresses in the target.
    exe_base = mh.load_base(a.pid, "/counter")
    lib_base = mh.load_base(a.pid, "/libcounter.so")
    hooks = {h["func"]: h for h in a.ready["hooks"]}
    assert set(hooks) == {EXE_FN, LIB_FN}
    v, _ = mh.symbol_value(mh.target("counter"), EXE_FN)
    assert hooks[EXE_FN]["addr"] == hex(exe_base + v)
    assert hooks[EXE_FN]["lib"] == "counter"
    v, _ = mh.symbol_value(mh.target("libcounter.so"), LIB_FN)
    assert hooks[LIB_FN]["addr"] == hex(lib_base + v)
    assert hooks[LIB_FN]["lib"] == "libcounter.so"
    for h in hooks.values():
        assert h["strategy"] == strategy
    a.go()
    assert mh.readline(a.t) == "total=%d" % total(threads, iters)
    assert mh.wait(a.t) == 0
    assert mh.wait(a.m) == 0, a.m.stderr.read()
    ev = mh.read_events(out)
    check_calls(ev, a.pid, threads, iters, a.ready)
    check_summaries(ev, threads, iters, strategy=strategy)


def test_lib_spec_forms(out):
    """LIB:NAME and exe:NAME pick the same functions as the bare names."""
    threads, iters = 2, 100
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "exe:" + EXE_FN,
                   "-f", "libcounter:" + LIB_FN, "--"] + counter(threads, iters))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "total=%d\n" % total(threads, iters)
    check_summaries(mh.read_events(out), threads, iters)


def test_text_mode(strategy, out):
    """Default text reports: the ready line, one line per call, the summary table."""
    threads, iters = 2, 50
    r = mh.mhookd(["-s", strategy, "-o", out] + BOTH + ["--"] + counter(threads, iters))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "total=%d\n" % total(threads, iters)
    assert r.stderr == ""
    text = open(out).read().splitlines()
    ready = [l for l in text if l.startswith("ready: ")]
    assert len(ready) == 1, text[:5]
    assert re.match(r"^ready: pid \d+, hooked ", ready[0]), ready[0]
    assert re.search(r"\bcounter_exe_fn in counter at 0x[0-9a-f]+ \(%s\)" % strategy,
                     ready[0]), ready[0]
    assert re.search(r"\bcounter_lib_fn in libcounter\.so at 0x[0-9a-f]+ \(%s\)" % strategy,
                     ready[0]), ready[0]
    call_rx = re.compile(r"^\d+\.\d{6} \[(\d+)\] (\w+)\(((?:0x[0-9a-f]+, ){5}0x[0-9a-f]+)\)$")
    calls = collections.Counter()
    args = collections.defaultdict(list)
    for l in text:
        m = call_rx.match(l)
        if m:
            calls[m.group(2)] += 1
            args[(m.group(1), m.group(2))].append(int(m.group(3).split(",")[0], 16))
    assert calls == {EXE_FN: threads * iters, LIB_FN: threads * iters}
    for (tid, f), a in args.items():
        t = a[0] // 1000000
        assert a == [t * 1000000 + i for i in range(iters)], (tid, f)
    # nx adds a collateral column; the first four columns are the same for every strategy
    header = [i for i, l in enumerate(text)
              if re.match(r"^\s*calls\s+function\s+object\s+strategy\b", l)]
    assert len(header) == 1, text[-5:]
    rows = {}
    for l in text[header[0] + 1:]:
        m = re.match(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+\d+)?\s*$", l)
        if m:
            rows[m.group(2)] = (int(m.group(1)), m.group(3), m.group(4))
    assert rows == {EXE_FN: (threads * iters, "counter", strategy),
                    LIB_FN: (threads * iters, "libcounter.so", strategy)}


def test_reports_default_to_stderr():
    """Without -o, reports go to stderr and the launched command's stdout stays clean."""
    r = mh.mhookd(["--json", "-f", EXE_FN, "--"] + counter(1, 20))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "total=%d\n" % total(1, 20)
    ev = mh.parse_json_lines(r.stderr)
    assert len(mh.of(ev, "call")) == 20
    assert mh.counts(ev) == {EXE_FN: 20}


def test_output_dash_is_stdout():
    r = mh.mhookd(["--json", "-c", "-o", "-", "-f", EXE_FN, "--"] + counter(1, 20))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert "total=%d" % total(1, 20) in lines
    ev = mh.parse_json_lines("\n".join(l for l in lines if l.startswith("{")))
    assert mh.counts(ev) == {EXE_FN: 20}
    assert len(lines) == 1 + len(ev)


def test_same_function_twice(out):
    """Hooking one function twice is an error or a no-op, never a corruption."""
    threads, iters = 2, 200
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", EXE_FN, "-f", EXE_FN, "--"]
                  + counter(threads, iters))
    if r.returncode == 0:
        assert r.stdout == "total=%d\n" % total(threads, iters)
        sums = mh.of(mh.read_events(out), "summary")
        assert sums and all(s["calls"] == threads * iters for s in sums), sums
    else:
        assert r.returncode in (1, 2), r
        mh.assert_error_line(r.stderr)
        assert "total=" not in r.stdout


@pytest.mark.sanitize
def test_json_fields(out):
    """Every line is one JSON object; required fields have the contract's types; addresses
    and registers are lowercase hex with 0x."""
    r = mh.mhookd(["--json", "-o", out] + BOTH + ["--"] + counter(2, 20))
    assert r.returncode == 0, r.stderr
    raw = open(out).read()
    assert raw.endswith("\n")
    ev = mh.parse_json_lines(raw)
    assert [e["event"] for e in ev].count("ready") == 1
    assert {e["event"] for e in ev} == {"ready", "call", "exit", "summary"}
    ready = mh.of(ev, "ready")[0]
    assert mh.of(ev, "exit") == [{"event": "exit", "pid": ready["pid"], "status": 0}]
    kinds = [e["event"] for e in ev]
    assert kinds.index("exit") < kinds.index("summary"), kinds
    assert isinstance(ready["pid"], int) and ready["pid"] > 0
    assert len(ready["hooks"]) == 2
    for h in ready["hooks"]:
        assert isinstance(h["func"], str) and isinstance(h["lib"], str)
        assert mh.HEX.match(h["addr"]) and h["strategy"] == "swbp", h
    for c in mh.of(ev, "call"):
        mh.check_call_event(c, ready["pid"])
        assert ":" not in c["func"]
    for s in mh.of(ev, "summary"):
        assert isinstance(s["calls"], int) and not isinstance(s["calls"], bool)
        assert set(["func", "lib", "strategy", "calls"]) <= set(s)
    # the JSON text itself: no uppercase hex digits in any 0x string
    assert not re.search(r'"0x[0-9a-f]*[A-F]', raw)
    assert not re.search(r'"0X', raw)
