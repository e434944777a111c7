"""The target itself calls exec: mhookd follows it, resolving its SPECs again in the new
program (an exec event, then armed events), the new program runs normally, and in launch
mode mhookd exits with its status. Also from a second thread, where the kernel moves the
exec to the thread-group leader."""

import pytest

import mh

EXEC_MAIN = """import os
os.getppid()
os.getppid()
os.execv(%r, ['forker', 'child', '4', '3'])
"""

EXEC_THREAD = """import os, threading, time
os.getppid()
def f():
    os.getppid()
    os.execv(%r, ['forker', 'child', '4', '3'])
threading.Thread(target=f).start()
while True:
    time.sleep(0.001)
"""


@pytest.mark.parametrize("script,calls", [pytest.param(EXEC_MAIN, 2, marks=pytest.mark.sanitize),
                                          (EXEC_THREAD, 2)],
                         ids=["main-thread", "other-thread"])
def test_exec_in_target(script, calls, strategy, tmp_path, out):
    path = tmp_path / "exec.py"
    path.write_text(script % mh.target("forker"))
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "getppid", "--",
                   mh.PYTHON, "-S", str(path)])
    assert r.returncode == 4, r.stderr
    assert r.stdout == "child 3\n"
    ev = mh.read_events(out)
    assert mh.counts(ev) == {"getppid": calls}  # forker's child mode calls no getppid
    assert [e["path"] for e in mh.of(ev, "exec")] == [mh.target("forker")]
    assert [e["func"] for e in mh.of(ev, "armed")] == ["getppid"]
