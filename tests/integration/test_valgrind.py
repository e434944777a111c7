"""mhookd itself under valgrind (memcheck): no invalid access, no uninitialised value in a
decision, no leak, on the paths that allocate and free the most: launch with -F and
children under every strategy, attach then detach on SIGINT, exec, and an error exit.
The ASan+UBSan lane covers the whole suite; this adds memcheck's view of uninitialised
memory, which ASan does not have."""

import shutil
import signal
import subprocess

import pytest

import mh

VALGRIND = shutil.which("valgrind")
MEMCHECK = [VALGRIND or "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect"]


def _sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False  # not built: the `built` fixture fails the run


# memcheck cannot run an ASan binary; the ASan lane (MHOOKD=build/san/mhookd) has its own
# checks, and the plain lane runs these.
pytestmark = [
    pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed (tools/deps.sh "
                       "installs it)"),
    pytest.mark.skipif(_sanitized(mh.MHOOKD), reason="memcheck cannot run an ASan build; "
                       "the plain lane runs these"),
]


def under_valgrind(args, **kw):
    return mh.run(MEMCHECK + [mh.MHOOKD] + args, **kw)


def test_follow_children(strategy, out):
    n, children = 5, 3
    r = under_valgrind(["-s", strategy, "-F", "--json", "-o", out, "-f", "forkn_fn", "--",
                        mh.target("forkn"), str(children), str(n)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "children exit sum %d\n" % sum(range(children))
    s = mh.summaries(mh.read_events(out))["forkn_fn"]
    assert s["calls"] == n + sum(n * (c + 1) for c in range(children))


def test_exec_and_dlopen(strategy, out):
    r = under_valgrind(["-s", strategy, "-c", "--json", "-o", out, "-f", "plugin_fn", "--",
                        "/bin/sh", "-c", "exec %s 2 5" % mh.target("loader")])
    assert r.returncode == 0, r.stderr
    assert mh.counts(mh.read_events(out)) == {"plugin_fn": 2 * (5 + 1)}


def test_attach_detach(strategy, procs, out):
    t = procs.popen([mh.target("counter"), "2", "200000", "--wait", "--linger"])
    assert mh.readline(t) == "ready %d" % t.pid
    before = mh.snapshot(t.pid)
    m = procs.popen(MEMCHECK + [mh.MHOOKD, "-s", strategy, "-p", str(t.pid), "--json", "-o",
                                out, "-f", "counter_exe_fn", "-f", "counter_lib_fn"],
                    stdin=subprocess.DEVNULL)
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(t)
    mh.wait_for_file_event(out, "call", m)
    assert mh.interrupt(m, signal.SIGINT) == 0, m.stderr.read()
    assert mh.readline(t).startswith("total=")
    mh.assert_restored(before, t.pid)
    t.kill()


def test_error_exit():
    r = under_valgrind(["-p", "999999999", "-f", "malloc"])
    assert r.returncode == 2, r.stderr
    assert [l for l in r.stderr.splitlines() if l.strip()] == \
        ["mhookd: no process with pid 999999999"]
