"""Globs in SPECs (README, "Globs"): one hook per distinct function a glob matches, in the
objects its LIB selects, also in libraries loaded later; aliases named in shared_with; a
limit on how many; a glob that matches nothing is pending in launch mode and an error with
-p; the socket refuses them."""

import pytest

import mh
from test_counter import check_summaries, counter, total


@pytest.mark.sanitize
def test_glob_over_objects_hooks_each_function(strategy, out):
    """'*:counter_*' matches counter_exe_fn in the executable and counter_lib_fn in
    libcounter.so: two hooks, exact counts under two threads, reported by the glob."""
    threads, iters = 2, 300
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "*:counter_*", "--"]
                  + counter(threads, iters))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "total=%d\n" % total(threads, iters)
    ev = mh.read_events(out)
    check_summaries(ev, threads, iters, strategy=strategy)
    ready = mh.of(ev, "ready")[0]
    assert {h["spec"] for h in ready["hooks"]} == {"*:counter_*"}, ready
    assert ready["pending"] == [], ready


def test_glob_in_one_library_and_aliases(out):
    """'libc:*malloc' matches malloc and __libc_malloc, one function: one hook named by the
    public name, the alias in shared_with (a JSON list). Every hook is a distinct
    address."""
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "libc:*malloc", "--", "/bin/true"])
    assert r.returncode == 0, r.stderr
    hooks = mh.of(mh.read_events(out), "ready")[0]["hooks"]
    by = {h["func"]: h for h in hooks}
    assert "malloc" in by and "__libc_malloc" not in by, sorted(by)
    assert "__libc_malloc" in by["malloc"]["shared_with"], by["malloc"]
    assert all(h["lib"] == "libc.so.6" for h in hooks)
    addrs = [h["addr"] for h in hooks]
    assert len(set(addrs)) == len(addrs)


def test_glob_matches_a_library_loaded_later(out):
    """libplugin is dlopen'ed three times and closed after each round: its functions are
    hooked each time it arrives, and counted in all."""
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "libplugin:plugin_*", "--",
                   mh.target("loader"), "3", "4"])
    assert r.returncode == 0, r.stderr
    s = mh.summaries(mh.read_events(out))
    assert s["plugin_fn"]["calls"] == 3 * (4 + 1), s
    assert s["plugin_fn"]["lib"] == "libplugin.so"


def test_glob_over_cxx_names(out):
    """A glob with '::' matches demangled names: the two overloads of ns::shape::area, and
    not ns::twice."""
    n = 5
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "ns::shape::*", "--",
                   mh.target("cxxtarget"), str(n)])
    assert r.returncode == 0, r.stderr
    s = mh.summaries(mh.read_events(out))
    assert {f: v["calls"] for f, v in s.items()} == {"_ZNK2ns5shape4areaEi": n,
                                                     "_ZNK2ns5shape4areaEd": n}, s


def test_glob_limit(out):
    """More distinct functions than --max-hooks (1,000 by default) is refused with the
    count, before anything is hooked; a higher limit takes them."""
    r = mh.mhookd(["-c", "-f", "libc:*", "--", "/bin/true"])
    assert r.returncode == 1
    line = mh.assert_error_line(r.stderr)
    assert "libc:*: matches " in line and "more than 1000" in line and "--max-hooks" in line
    r = mh.mhookd(["-c", "--json", "-o", out, "--max-hooks", "5000", "-f", "libc:*", "--",
                   "/bin/true"])
    assert r.returncode == 0, r.stderr
    assert len(mh.of(mh.read_events(out), "ready")[0]["hooks"]) > 1000
    r = mh.mhookd(["--max-hooks", "0", "-f", "libc:*", "--", "/bin/true"])
    assert r.returncode == 1 and "--max-hooks" in mh.assert_error_line(r.stderr)


def test_glob_matching_nothing():
    """Launch mode: pending, and a warning at the end. With -p: an error (status 2)."""
    r = mh.mhookd(["-c", "-f", "libc:zzq*", "--", "/bin/true"])
    assert r.returncode == 0
    assert "warning: libc:zzq* was never armed: no function matches 'zzq*' in libc" \
        in r.stderr, r.stderr


def test_glob_matching_nothing_with_p(procs):
    t = procs.popen([mh.target("counter"), "1", "1", "--wait"])
    assert mh.readline(t).startswith("ready ")
    r = mh.mhookd(["-p", str(t.pid), "-f", "libc:strzzq*"])
    assert r.returncode == 2
    assert "no function matches 'strzzq*' in libc" in mh.assert_error_line(r.stderr)
    r = mh.mhookd(["-p", str(t.pid), "-f", "nolib*:f*"])
    assert r.returncode == 2
    assert "no loaded object matches 'nolib*'" in mh.assert_error_line(r.stderr)


def test_glob_spec_errors():
    for spec, why in (("libc*:0x10", "LIB glob"), ("str*+0x4", "after a glob")):
        r = mh.mhookd(["-f", spec, "--", "/bin/true"])
        assert r.returncode == 1, (spec, r.stderr)
        assert why in mh.assert_error_line(r.stderr), (spec, r.stderr)


def test_glob_with_p(procs, out):
    """The README's `mhookd -c -f 'sqlite3_*' -p PID`, on counter: attached, the glob's
    functions are armed at ready and counted exactly."""
    threads, iters = 2, 200
    t = procs.popen(counter(threads, iters, "--wait"))
    assert mh.readline(t).startswith("ready ")
    m = procs.popen([mh.MHOOKD, "-c", "--json", "-o", out, "-f", "counter_*", "-p",
                     str(t.pid)])
    ready = mh.wait_for_file_event(out, "ready", m)
    assert sorted(h["func"] for h in ready["hooks"]) == ["counter_exe_fn", "counter_lib_fn"]
    mh.send_line(t)
    assert mh.readline(t) == "total=%d" % total(threads, iters)
    assert mh.wait(t) == 0
    assert mh.wait(m) == 0, m.stderr.read()
    check_summaries(mh.read_events(out), threads, iters)


def test_glob_functions_a_strategy_cannot_take(out):
    """Under hwbp, four debug registers: a glob of more functions arms four, reports each
    one left out as an error, and the run goes on (it asked for whatever matches)."""
    r = mh.mhookd(["-s", "hwbp", "-c", "--json", "-o", out, "-f", "libc:str*", "--",
                   mh.target("libcalls"), "3"])
    assert r.returncode == 0, r.stderr
    ev = mh.read_events(out)
    armed = mh.of(ev, "ready")[0]["hooks"]
    assert len(armed) == mh.HWBP_SLOTS, armed
    errors = mh.of(ev, "error")
    assert errors and all("debug register" in e["message"] for e in errors), errors
