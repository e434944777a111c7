"""Following the target (issue 5): libraries loaded after the start (dlopen, constructors,
dlclose and a second dlopen), exec, and children with -F. Every count is exact, and the
expected numbers come from the targets' own structure (loader, forkn) or from gdb."""

import os
import subprocess

import pytest

import mh

ROUNDS, CALLS = 2, 5
PLUGIN_CALLS = ROUNDS * (CALLS + 1)  # each dlopen's constructor calls plugin_fn once


def loader(*extra):
    return [mh.target("loader"), str(ROUNDS), str(CALLS)] + list(extra)


def test_constructor_and_dlopen_launch(out, strategy):
    r = mh.mhookd(["-s", strategy, "--json", "-o", out, "-f", "ctor_fn", "-f", "plugin_fn",
                   "--"] + loader())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "plugin_calls=%d\n" % (ROUNDS * CALLS)
    events = mh.read_events(out)
    ready = mh.of(events, "ready")[0]
    # libctor.so is loaded with the program: armed before ready, and before its
    # constructor ran, which calls ctor_fn 3 times (main adds 2).
    assert [h["func"] for h in ready["hooks"]] == ["ctor_fn"]
    assert [p["spec"] for p in ready["pending"]] == ["plugin_fn"]
    counts = mh.counts(events)
    assert counts["ctor_fn"] == 5
    assert counts["plugin_fn"] == PLUGIN_CALLS
    # armed at each dlopen, disarmed at each dlclose
    assert len(mh.of(events, "armed")) == ROUNDS
    assert len(mh.of(events, "disarmed")) == ROUNDS
    assert all(e["func"] == "plugin_fn" for e in mh.of(events, "armed"))


def test_dlopen_after_attach_needs_pending(procs, out, strategy):
    t = procs.popen(loader("--wait"))
    assert mh.readline(t) == "ready %d" % t.pid
    before = mh.exec_maps(t.pid)
    r = mh.mhookd(["-s", strategy, "-p", str(t.pid), "-f", "plugin_fn"])
    assert r.returncode == 2
    assert "plugin_fn" in mh.assert_error_line(r.stderr)
    mh.assert_code_restored(before, t.pid)

    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(t.pid), "--pending", "--json", "-o",
                     out, "-f", "plugin_fn", "-f", "ctor_fn"], stdin=subprocess.DEVNULL)
    mh.wait_for_file_event(out, "ready", m)
    mh.send_line(t)
    assert mh.readline(t) == "plugin_calls=%d" % (ROUNDS * CALLS)
    assert mh.wait(t) == 0
    assert mh.wait(m) == 0, m.stderr.read()
    events = mh.read_events(out)
    assert [p["spec"] for p in mh.of(events, "ready")[0]["pending"]] == ["plugin_fn"]
    counts = mh.counts(events)
    assert counts["plugin_fn"] == PLUGIN_CALLS
    assert counts["ctor_fn"] == 2  # the constructor's 3 ran before the attach


def test_pending_never_loaded_is_summarised(out):
    r = mh.mhookd(["--json", "-o", out, "-f", "libnotloaded:some_fn", "-f", "ctor_fn",
                   "--"] + loader())
    assert r.returncode == 0, r.stderr
    sums = {e["func"]: e for e in mh.of(mh.read_events(out), "summary")}
    assert sums["some_fn"]["calls"] == 0 and sums["some_fn"]["armed"] is False
    assert sums["ctor_fn"]["calls"] == 5 and sums["ctor_fn"]["armed"] is True


GDB_COUNT = """set pagination off
set breakpoint pending on
set $n = 0
break %s
commands
silent
set $n = $n + 1
continue
end
run
printf "gdbcount=%%d\\n", $n
"""


def gdb_count(func, cmd, tmp_path):
    script = tmp_path / "count.gdb"
    script.write_text(GDB_COUNT % func)
    r = mh.run(["gdb", "-q", "-batch", "-x", str(script), "--args"] + cmd, timeout=120)
    lines = [l for l in r.stdout.splitlines() if l.startswith("gdbcount=")]
    assert lines, r.stdout + r.stderr
    return int(lines[-1].split("=")[1])


PY_SQLITE = """import sqlite3
c = sqlite3.connect(":memory:")
c.execute("create table t(a)")
c.executemany("insert into t values (?)", [(i,) for i in range(40)])
print(c.execute("select count(*), sum(a) from t").fetchone())
"""


@pytest.mark.timeout(180)
def test_python_import_sqlite3(tmp_path, out, strategy):
    """libsqlite3 arrives with `import sqlite3` (python3 dlopens _sqlite3, which needs
    libsqlite3): sqlite3_step is pending at ready, armed at the dlopen, counted exactly."""
    script = tmp_path / "q.py"
    script.write_text(PY_SQLITE)
    cmd = [mh.PYTHON, str(script)]
    plain = mh.run(cmd)
    r = mh.mhookd(["-s", strategy, "--json", "-c", "-o", out, "-f", "sqlite3_step", "--"] + cmd)
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout == "(40, 780)\n"
    events = mh.read_events(out)
    assert [e["lib"] for e in mh.of(events, "armed")] == [
        next(e["lib"] for e in mh.of(events, "armed"))]
    assert mh.of(events, "armed")[0]["lib"].startswith("libsqlite3")
    assert mh.counts(events)["sqlite3_step"] == gdb_count("sqlite3_step", cmd, tmp_path)


def test_exec_via_shell_is_followed(out, strategy):
    """sh -c 'exec prog': the hooks are resolved again in the program sh becomes."""
    r = mh.mhookd(["-s", strategy, "--json", "-o", out, "-f", "ctor_fn", "-f", "plugin_fn",
                   "--", "/bin/sh", "-c", "exec " + " ".join(loader())])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "plugin_calls=%d\n" % (ROUNDS * CALLS)
    events = mh.read_events(out)
    assert len(mh.of(events, "exec")) == 1
    counts = mh.counts(events)
    assert counts["ctor_fn"] == 5
    assert counts["plugin_fn"] == PLUGIN_CALLS


def test_follow_children_per_pid(out, strategy):
    n, children = 10, 4
    r = mh.mhookd(["-s", strategy, "-F", "--json", "-o", out, "-f", "forkn_fn", "--",
                   mh.target("forkn"), str(children), str(n)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "children exit sum %d\n" % sum(range(children))
    events = mh.read_events(out)
    assert len(mh.of(events, "child")) == children
    s = mh.summaries(events)["forkn_fn"]
    per_pid = sorted(s["per_pid"].values())
    assert per_pid == sorted([n] + [n * (c + 1) for c in range(children)])
    assert s["calls"] == sum(per_pid)
    # every call event carries its own process's pid
    by_pid = {}
    for e in mh.of(events, "call"):
        by_pid[e["pid"]] = by_pid.get(e["pid"], 0) + 1
    assert {str(k): v for k, v in by_pid.items()} == s["per_pid"]


def test_children_unfollowed_unharmed(out, strategy):
    n, children = 10, 4
    r = mh.mhookd(["-s", strategy, "--json", "-c", "-o", out, "-f", "forkn_fn", "--",
                   mh.target("forkn"), str(children), str(n)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "children exit sum %d\n" % sum(range(children))
    assert mh.counts(mh.read_events(out))["forkn_fn"] == n


def test_follow_exec_in_children(out, strategy):
    """-F with `sh -c 'forkn ...; exec loader ...'`: sh's child execs forkn, whose children
    fork; then sh itself execs loader. Every process is hooked in its own program."""
    n, children = 5, 3
    cmd = "%s %d %d; exec %s" % (mh.target("forkn"), children, n, " ".join(loader()))
    r = mh.mhookd(["-s", strategy, "-F", "--json", "-c", "-o", out, "-f", "forkn_fn",
                   "-f", "plugin_fn", "--", "/bin/sh", "-c", cmd])
    assert r.returncode == 0, r.stderr
    counts = mh.counts(mh.read_events(out))
    assert counts["forkn_fn"] == n + sum(n * (c + 1) for c in range(children))
    assert counts["plugin_fn"] == PLUGIN_CALLS
