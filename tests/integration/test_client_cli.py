"""`mhook`, the command-line client (client/): against a live daemon, its text and JSON
output, its summary at Ctrl-C, list, and its exit statuses. The protocol itself is
test_server.py's."""

import json
import os
import re
import signal
import subprocess

import mh
from test_counter import EXE_FN, LIB_FN
from test_server import Daemon, Target

MHOOK = os.path.join(os.path.dirname(mh.MHOOKD), "mhook")
if not os.access(MHOOK, os.X_OK):  # the ASan lane has no client of its own
    MHOOK = os.path.join(mh.REPO, "build", "mhook")


def mhook(args, **kw):
    return subprocess.run([MHOOK] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=mh.WAIT, **kw)


def stream(procs, d, pid, *args):
    """`mhook attach PID ...`, started; returns once its ready line is out."""
    p = procs.popen([MHOOK, "-S", d.path, "attach", str(pid)] + list(args))
    first = mh.readline(p)
    return p, first


def rest(p):
    """What p printed after the lines read so far, once it has exited."""
    lines = []
    while True:
        line = p.lines.get(timeout=mh.WAIT)
        if line is None:
            return "".join(lines)
        lines.append(line)


def test_attach_text_and_summary(procs, tmp_path):
    d = Daemon(procs, tmp_path)
    t = Target(procs, 2, 50, "--linger")
    p, first = stream(procs, d, t.pid, "-f", EXE_FN, "-f", LIB_FN)
    assert first.startswith("ready: pid %d, hooked %s in counter at 0x" % (t.pid, EXE_FN)), first
    t.go()
    t.expect_round()
    lines = [mh.readline(p) for _ in range(200)]
    calls = [l for l in lines if re.match(r"^\d+\.\d{6} \[\d+\] counter_(exe|lib)_fn\(0x", l)]
    assert len(calls) == 200, lines[:5]
    args = sorted(int(l.split("(")[1].split(",")[0], 16) for l in calls if EXE_FN in l)
    assert args == sorted(list(range(50)) + list(range(1000000, 1000050))), args[:4]
    assert mh.interrupt(p, signal.SIGINT) == 0
    table = rest(p)
    assert re.search(r"^\s+100  %s\s+counter\s+swbp$" % EXE_FN, table, re.M), table
    assert re.search(r"^\s+100  %s\s+libcounter.so\s+swbp$" % LIB_FN, table, re.M), table
    # Ctrl-C unhooked, and nothing else held the target: detached, byte-identical.
    t.assert_left_alone()


def test_attach_json_lines_are_mhookds(procs, tmp_path):
    d = Daemon(procs, tmp_path)
    t = Target(procs, 1, 5)
    p, first = stream(procs, d, t.pid, "-f", EXE_FN, "--json", "-c")
    assert json.loads(first)["event"] == "ready", first
    t.go()
    t.expect_round()
    assert mh.interrupt(p, signal.SIGINT) == 0
    events = [json.loads(l) for l in rest(p).splitlines()]
    assert not [e for e in events if e["event"] == "call"], "-c printed calls"
    rows = [e for e in events if e["event"] == "summary"]
    assert [(r["func"], r["calls"]) for r in rows] == [(EXE_FN, 5)], rows


def test_list_and_statuses(procs, tmp_path):
    d = Daemon(procs, tmp_path)
    t = Target(procs, 1, 5, "--linger")
    p, _ = stream(procs, d, t.pid, "-f", EXE_FN)
    r = mhook(["-S", d.path, "list", "--json"])
    assert r.returncode == 0, r.stderr
    targets = json.loads(r.stdout)
    targets = targets.get("targets", targets) if isinstance(targets, dict) else targets
    assert [x["pid"] for x in targets] == [t.pid], targets
    assert mhook(["-S", d.path, "attach", str(t.pid), "-f", "no_such_fn_xyz"]).returncode == 2
    assert mhook(["-S", d.path, "attach"]).returncode == 1
    r = mhook(["-S", str(tmp_path / "nobody.sock"), "list"])
    assert r.returncode == 3 and "mhookd --listen" in r.stderr, r.stderr
    assert mh.interrupt(p, signal.SIGINT) == 0
    t.assert_left_alone()
