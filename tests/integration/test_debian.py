"""Real programs from Debian: sqlite3 running a fixed script with sqlite3_step hooked in
libsqlite3, and /usr/bin/python3 calling getppid() a known number of times. The output must
be unchanged, and the count must equal an independent count: gdb's hit count of a
breakpoint at the same function (and, for python3, the number of calls the script makes).
Each test runs once per strategy; gdb's counts are taken once and shared."""

import os
import re
import shlex

import pytest

import mh

SQL = """\
CREATE TABLE t(a INTEGER, b TEXT);
INSERT INTO t VALUES (1,'one'),(2,'two'),(3,'three');
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<50)
  INSERT INTO t SELECT x+10, 'n'||x FROM c;
SELECT count(*), sum(a) FROM t;
SELECT a, b FROM t WHERE a % 7 = 0 ORDER BY a;
UPDATE t SET b = upper(b) WHERE a < 4;
SELECT * FROM t WHERE a < 4;
DELETE FROM t WHERE a > 40;
SELECT count(*) FROM t;
"""

SQLITE = "/usr/bin/sqlite3"


_gdb_hits = {}


def gdb_hits(func, cmd, stdin_path=None):
    """Counts the entries of func during cmd with a gdb breakpoint (independent of mhookd).
    The arguments go on gdb's `run` line (through a shell), since a redirection given to
    `run` replaces the arguments of --args. Remembered per (func, cmd, stdin contents):
    the programs here are deterministic, and every strategy compares with one count."""
    key = (func, tuple(cmd), open(stdin_path).read() if stdin_path else None)
    if key not in _gdb_hits:
        _gdb_hits[key] = _gdb_hits_uncached(func, cmd, stdin_path)
    return _gdb_hits[key]


def _gdb_hits_uncached(func, cmd, stdin_path):
    run = "run " + " ".join(shlex.quote(a) for a in cmd[1:])
    run += (" < %s" % shlex.quote(stdin_path) if stdin_path else " < /dev/null") + " > /dev/null"
    r = mh.run(["gdb", "-nx", "-batch", "-ex", "set debuginfod enabled off",
                "-ex", "set breakpoint pending on", "-ex", "file " + cmd[0],
                "-ex", "break " + func, "-ex", "ignore 1 1000000000", "-ex", run,
                "-ex", "info breakpoints"], timeout=50)
    assert "exited normally" in r.stdout, r.stdout + r.stderr
    assert re.search(r"^1\s+breakpoint\s+keep y\s+0x", r.stdout, re.M), r.stdout
    m = re.search(r"breakpoint already hit (\d+) time", r.stdout)
    return int(m.group(1)) if m else 0


@pytest.fixture
def script(tmp_path):
    p = tmp_path / "script.sql"
    p.write_text(SQL)
    return str(p)


@pytest.mark.sanitize
@pytest.mark.skipif(not os.path.exists(SQLITE), reason="sqlite3 not installed")
def test_sqlite3_step(strategy, script, out):
    cmd = [SQLITE, ":memory:"]
    with open(script) as f:
        plain = mh.run(cmd, stdin=f)
    assert plain.returncode == 0 and plain.stderr == ""
    assert "53|1781" in plain.stdout  # the script really ran
    expected = gdb_hits("sqlite3_step", cmd, script)
    # 9 statements each stepped to SQLITE_DONE, plus the 12 rows they return, at least.
    assert expected >= 21
    with open(script) as f:
        r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "sqlite3_step", "--"]
                      + cmd, stdin=f)
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    assert r.stderr == ""
    ev = mh.read_events(out)
    s = mh.summaries(ev)
    assert set(s) == {"sqlite3_step"}
    assert s["sqlite3_step"]["lib"].startswith("libsqlite3.so"), s
    assert s["sqlite3_step"]["strategy"] == strategy, s
    assert s["sqlite3_step"]["calls"] == expected


@pytest.mark.skipif(not os.path.exists(SQLITE), reason="sqlite3 not installed")
def test_sqlite3_lib_spec_and_calls(strategy, script, out):
    """libsqlite3:sqlite3_step, per-call JSON: one call event per step, all with the
    same pid and tid (sqlite3 is single-threaded)."""
    cmd = [SQLITE, ":memory:"]
    expected = gdb_hits("sqlite3_step", cmd, script)
    with open(script) as f:
        r = mh.mhookd(["-s", strategy, "--json", "-o", out, "-f", "libsqlite3:sqlite3_step",
                       "--"] + cmd, stdin=f)
    assert r.returncode == 0, r.stderr
    ev = mh.read_events(out)
    calls = mh.of(ev, "call")
    pid = mh.of(ev, "ready")[0]["pid"]
    assert len(calls) == expected
    for c in calls:
        mh.check_call_event(c, pid)
        assert c["tid"] == pid and c["func"] == "sqlite3_step"
    # the first argument is the statement handle: a non-null pointer
    assert all(int(c["args"][0], 16) != 0 for c in calls)
    assert mh.counts(ev) == {"sqlite3_step": expected}


PY = "import os\nfor _ in range(%d):\n    os.getppid()\nprint('ok', %d)\n"


@pytest.mark.parametrize("n", [500, 1500])
def test_python3_getppid(n, strategy, tmp_path, out):
    # A script file: gdb mangles a -c argument with spaces.
    path = tmp_path / "getppid.py"
    path.write_text(PY % (n, n))
    cmd = [mh.PYTHON, "-S", str(path)]
    expected = gdb_hits("getppid", cmd)
    assert expected == n  # python3 itself calls getppid only when the script does
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "getppid", "--"] + cmd)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok %d\n" % n
    s = mh.summaries(mh.read_events(out))
    assert s["getppid"]["lib"] == "libc.so.6"
    assert s["getppid"]["calls"] == n


@pytest.mark.skipif(not os.path.exists(SQLITE), reason="sqlite3 not installed")
def test_sqlite3_many_hooks(strategy, script, out):
    """Eleven hooks at once in libc and libsqlite3, among them the allocator that every
    other hooked function calls: the output is unchanged and sqlite3's own functions are
    counted exactly (gdb's counts for libc names are not comparable: gdb also breaks in
    ld.so's copies). hwbp has 4 debug registers, so it takes them 4 at a time, in runs
    that are otherwise identical."""
    cmd = [SQLITE, ":memory:"]
    with open(script) as f:
        plain = mh.run(cmd, stdin=f)
    funcs = ["malloc", "free", "realloc", "calloc", "memcpy", "strlen", "memset",
             "sqlite3_step", "sqlite3_prepare_v2", "sqlite3_malloc64", "sqlite3_free"]
    c = {}
    for group in mh.chunks(funcs, mh.max_hooks(strategy)):
        args = ["-s", strategy, "-c", "--json", "-o", out]
        for f in group:
            args += ["-f", f]
        with open(script) as f:
            r = mh.mhookd(args + ["--"] + cmd, stdin=f)
        assert r.returncode == 0, (group, r.stderr)
        assert r.stdout == plain.stdout
        got = mh.counts(mh.read_events(out))
        assert set(got) == set(group)
        c.update(got)
    assert set(c) == set(funcs)
    for f in ("sqlite3_step", "sqlite3_free", "sqlite3_prepare_v2"):
        assert c[f] == gdb_hits(f, cmd, script), f
    assert c["malloc"] > 0 and c["free"] > 0 and c["memcpy"] > 0
