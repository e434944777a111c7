"""Signals the target sends itself while it is traced, and across detach: real-time
payloads must arrive with their siginfo and as often as they were sent, and a handler
that runs while mhookd detaches must return to valid code. The target (rtpong) queues
bursts of SIGRTMIN with sequence numbers to a thread that keeps calling the hooked
function, and sleeps 300 ms in a SIGUSR1 handler."""

import os
import re
import signal
import time

import pytest

import mh


def result(line):
    """rtpong's closing line as a dict of ints."""
    assert line.startswith("sent="), line
    return {k: int(v) for k, v in (f.split("=") for f in line.split())}


def start_rtpong(procs):
    target = procs.popen([mh.target("rtpong"), "0"])
    assert mh.readline(target) == "ready %d" % target.pid
    return target


def attach(strategy, pid, procs, out):
    if os.path.exists(out):
        os.unlink(out)
    m = procs.popen([mh.MHOOKD, "-s", strategy, "-p", str(pid), "--json", "-o", out,
                     "-f", "rt_fn"])
    mh.wait_for_file_event(out, "call", m, func="rt_fn")
    return m


def detach(m):
    m.send_signal(signal.SIGINT)
    assert mh.wait(m) == 0
    err = m.stderr.read()
    assert "mhookd:" not in err, err


def test_rt_payloads_survive_detaches(strategy, procs, out):
    """40 attach/detach cycles under RT traffic. Before, a signal that arrived while
    mhookd ran an injected syscall or took a pending trap was re-sent with tgkill: its
    payload was lost (5 per 40 cycles) and repeats merged, and under nx the target died
    of a return into the unmapped code cache."""
    target = start_rtpong(procs)
    for _ in range(40):
        detach(attach(strategy, target.pid, procs, out))
        assert target.poll() is None
    mh.send_line(target)
    r = result(mh.readline(target))
    assert mh.wait(target) == 0
    assert r["bad"] == 0 and r["lost"] == 0, r
    assert r["sent"] == r["received"] > 0, r


@pytest.mark.sanitize
def test_rt_storm_exact_count(strategy, out):
    """Every call counted once while signals keep arriving just after the hits: a signal
    delivered from a slot is delivered from the original code instead, and the hit is not
    counted again when the handler returns."""
    r = mh.mhookd(["-s", strategy, "--json", "-c", "-o", out, "-f", "rt_fn", "--",
                   mh.target("rtpong"), "1"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ready ")
    res = result(lines[1])
    assert res["bad"] == 0 and res["lost"] == 0 and res["sent"] == res["received"], res
    events = mh.read_events(out)
    assert not mh.of(events, "error"), events
    assert mh.counts(events) == {"rt_fn": res["calls"]}


def test_handler_running_across_detach(strategy, procs, out):
    """A SIGUSR1 sent while the thread keeps hitting the hook is delivered just after a
    hit, with its PC in the slot (swbp) or the code cache (nx), and its handler sleeps
    300 ms while mhookd detaches and unmaps that code. Before, the handler then returned
    into unmapped memory and the target died."""
    target = start_rtpong(procs)
    for _ in range(5):
        m = attach(strategy, target.pid, procs, out)
        os.kill(target.pid, signal.SIGUSR1)
        time.sleep(0.1)
        detach(m)
        time.sleep(0.3)
        assert target.poll() is None
    time.sleep(0.3)
    mh.send_line(target)
    r = result(mh.readline(target))
    assert mh.wait(target) == 0
    assert r["slow"] == 5, r
    assert r["bad"] == 0 and r["lost"] == 0, r


# A SIGALRM every 100 us whose handler calls the hooked function: every strategy finishes
# and counts the loop's calls and every handler's call exactly. Under nx each signal costs
# four stops when the handler shares the guarded page (its entry, the call, the return
# into it, the sigreturn into the interrupted code), and unpinned, a stop that wakes the
# other CPU costs about 70 us here: the handling outlasts the period, the next SIGALRM is
# pending at each sigreturn, and the loop never runs again (README, Known limits). Pinned
# to one CPU, as tracer and target share one, a stop costs a tenth of that. Every strategy
# runs pinned here, so that the figure does not hang on how busy the machine is (swbp and
# hwbp, at one stop per signal, also finish unpinned on it).
@pytest.mark.sanitize
def test_fast_timer_calls_hooked_function(strategy, out):
    n = 5000
    pin = ["taskset", "-c", "0"]
    r = mh.run(pin + [mh.MHOOKD, "-s", strategy, "-c", "--json", "-o", out, "-f", "alarm_fn",
                      "--", mh.target("alarmer"), str(n), "100"], timeout=50)
    assert r.returncode == 0, r.stderr
    m = re.match(r"^main=(\d+) handler=(\d+)\n$", r.stdout)
    assert m and int(m.group(1)) == n and int(m.group(2)) > 0, r.stdout
    assert mh.counts(mh.read_events(out)) == {"alarm_fn": n + int(m.group(2))}
