"""The hazards target: functions whose first instruction is hard to execute out of line
(RIP-relative operands, short and near branches, calls, jrcxz/loop, endbr64, a lone ret,
loops back into the entry). Hooked, the output must not change and every count must be
exact, with every strategy (hwbp hooks at most 4 functions at once, so it takes them in
groups of 4)."""

import pytest

import mh

K = 300
LOOP_N = 3  # hazards.c: hz_loop's loop passes its entry 3 times per call
FUNCS = ["hz_riprel", "hz_ripcmp", "hz_lea", "hz_jcc", "hz_call", "hz_callind", "hz_jmp",
         "hz_jmpind", "hz_ret", "hz_endbr", "hz_loop", "hz_loop_inner", "hz_jrcxz",
         "hz_loopi", "hz_push"]


def expected_count(f, k):
    return k * LOOP_N if f == "hz_loop" else k


@pytest.fixture(scope="module")
def plain():
    r = mh.run([mh.target("hazards"), str(K)])
    assert r.returncode == 0
    assert [l.split()[0] for l in r.stdout.splitlines()] == FUNCS
    return r.stdout


@pytest.mark.sanitize
def test_all_hazards_at_once(strategy, plain, out):
    for group in mh.chunks(FUNCS, mh.max_hooks(strategy)):
        args = ["-s", strategy, "-c", "--json", "-o", out]
        for f in group:
            args += ["-f", f]
        r = mh.mhookd(args + ["--", mh.target("hazards"), str(K)])
        assert r.returncode == 0, (group, r.stderr)
        assert r.stdout == plain
        assert r.stderr == ""
        ev = mh.read_events(out)
        assert mh.counts(ev) == {f: expected_count(f, K) for f in group}
        for s in mh.summaries(ev).values():
            assert s["strategy"] == strategy and s["lib"] == "hazards", s


@pytest.mark.parametrize("func", FUNCS)
def test_each_hazard(func, strategy, plain, out):
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", func, "--",
                   mh.target("hazards"), str(K)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain
    assert mh.counts(mh.read_events(out)) == {func: expected_count(func, K)}


def test_hazard_addresses(out, procs):
    """The ready event reports the functions at their symbol addresses: checked relative
    to each other (nm), which does not depend on the load base."""
    r = mh.mhookd(["--json", "-c", "-o", out, "-f", "hz_riprel", "-f", "hz_push",
                   "--", mh.target("hazards"), "1"])
    assert r.returncode == 0, r.stderr
    hooks = {h["func"]: int(h["addr"], 16) for h in mh.of(mh.read_events(out), "ready")[0]["hooks"]}
    a, _ = mh.symbol_value(mh.target("hazards"), "hz_riprel")
    b, _ = mh.symbol_value(mh.target("hazards"), "hz_push")
    assert hooks["hz_push"] - hooks["hz_riprel"] == b - a
    assert hooks["hz_riprel"] % 16 == a % 16
