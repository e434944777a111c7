"""SPEC forms of the command line (README, "SPEC") against a live target whose addresses we know (nm and
/proc/PID/maps): 0xADDR, LIB:0xOFF, NAME+0xOFF (an instruction boundary found with objdump),
and an offset that is not an instruction boundary, which must be refused with the target
left as it was."""

import re

import pytest

import mh
from test_counter import counter, total

THREADS, ITERS = 2, 100


def second_insn(path, func):
    """Offset of func's second instruction, from objdump."""
    r = mh.run(["objdump", "-d", "--no-show-raw-insn", path])
    m = re.search(r"^([0-9a-f]+) <%s>:\n\s*([0-9a-f]+):.*\n\s*([0-9a-f]+):" % func, r.stdout, re.M)
    assert m, func
    return int(m.group(3), 16) - int(m.group(1), 16)


def attach_and_count(procs, out, specs):
    """Attaches with specs, runs the work; returns (Attached, events, counter_exe_fn's
    address in that process)."""
    a = mh.Attached(procs, counter(THREADS, ITERS, "--wait"),
                    ["-c"] + sum((["-f", s] for s in specs), []), out)
    exe, _ = addresses(a.pid)
    a.go()
    assert mh.readline(a.t) == "total=%d" % total(THREADS, ITERS)
    assert mh.wait(a.t) == 0
    assert mh.wait(a.m) == 0, a.m.stderr.read()
    return a, mh.read_events(out), exe


def addresses(pid):
    exe = mh.load_base(pid, "/counter") + mh.symbol_value(mh.target("counter"), "counter_exe_fn")[0]
    off = mh.symbol_value(mh.target("libcounter.so"), "counter_lib_fn")[0]
    return exe, off


@pytest.mark.sanitize
def test_absolute_and_lib_offset(procs, out):
    tgt = procs.popen(counter(THREADS, ITERS, "--wait"))
    assert mh.readline(tgt) == "ready %d" % tgt.pid
    exe, lib_off = addresses(tgt.pid)
    m = procs.popen([mh.MHOOKD, "-p", str(tgt.pid), "--json", "-c", "-o", out,
                     "-f", hex(exe), "-f", "libcounter:" + hex(lib_off)])
    ready = mh.wait_for_file_event(out, "ready", m)
    lib_abs = mh.load_base(tgt.pid, "/libcounter.so") + lib_off
    assert sorted(int(h["addr"], 16) for h in ready["hooks"]) == sorted([exe, lib_abs])
    mh.send_line(tgt)
    assert mh.readline(tgt) == "total=%d" % total(THREADS, ITERS)
    assert mh.wait(tgt) == 0
    assert mh.wait(m) == 0, m.stderr.read()
    s = mh.summaries(mh.read_events(out))
    assert len(s) == 2
    assert hex(exe) in s, s  # func of an address spec is the address
    for name, e in s.items():
        assert name.startswith("0x"), s
        assert e["calls"] == THREADS * ITERS


def test_name_plus_offset(procs, out):
    off = second_insn(mh.target("counter"), "counter_exe_fn")
    a, ev, exe = attach_and_count(procs, out, ["counter_exe_fn+%#x" % off])
    assert [int(h["addr"], 16) for h in a.ready["hooks"]] == [exe + off]
    assert [e["calls"] for e in mh.of(ev, "summary")] == [THREADS * ITERS]


def test_not_an_instruction_boundary_every_strategy(strategy, waiting):
    """An address inside an instruction is refused with the same reason under every
    strategy (hwbp would otherwise arm a breakpoint that never fires), before anything is
    written: the `waiting` fixture checks the target is left as it was."""
    r = mh.mhookd(["-s", strategy, "-p", str(waiting.pid), "-f", "counter_exe_fn+0x1"])
    assert r.returncode == 2, r
    line = mh.assert_error_line(r.stderr)
    assert re.search(r"cannot hook counter_exe_fn at 0x[0-9a-f]+: 0x[0-9a-f]+ is not an "
                     r"instruction boundary in counter \(decoding from its start at "
                     r"0x[0-9a-f]+ does not land on it\)$", line), line


def test_not_an_instruction_boundary(waiting):
    off = second_insn(mh.target("counter"), "counter_exe_fn")
    assert off > 1
    r = mh.mhookd(["-p", str(waiting.pid), "-f", "counter_exe_fn+0x1"])
    assert r.returncode in (1, 2), r
    mh.assert_error_line(r.stderr)
