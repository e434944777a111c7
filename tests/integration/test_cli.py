"""The command line as a new user meets it: LIB:0xOFF SPECs that wait for their object,
LIBs with '+' in their name (libstdc++), and the other command-line bugs of the CLI issue,
each against a real target whose numbers we know."""

import os
import re
import signal
import subprocess
import time

import pytest

import mh

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
ROUNDS, CALLS = 3, 4


def dynsym(path, name):
    """st_value of a defined dynamic symbol (nm -D: libc has no .symtab)."""
    r = mh.run(["nm", "-D", "--defined-only", path])
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[2].split("@")[0] == name:
            return int(f[0], 16)
    raise AssertionError("%s not in %s" % (name, path))


def loader():
    return [mh.target("loader"), str(ROUNDS), str(CALLS)]


# ---- LIB:0xOFF waits for its object, like a name ------------------------------------------


@pytest.mark.sanitize
def test_lib_offset_pending_in_launch(strategy, out):
    """libplugin.so comes with dlopen, after the start: its LIB:0xOFF SPEC is pending, then
    armed at each dlopen, and counts every call exactly."""
    off = mh.symbol_value(mh.target("libplugin.so"), "plugin_fn")[0]
    spec = "libplugin:" + hex(off)
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", spec, "--"] + loader())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "plugin_calls=%d\n" % (ROUNDS * CALLS)
    ev = mh.read_events(out)
    ready = mh.of(ev, "ready")[0]
    assert [p["spec"] for p in ready["pending"]] == [spec], ready
    assert "libplugin" in ready["pending"][0]["why"]
    assert len(mh.of(ev, "armed")) == ROUNDS
    s = mh.of(ev, "summary")
    assert [(e["lib"], e["calls"]) for e in s] == [("libplugin.so", ROUNDS * (CALLS + 1))]


def second_insn(path, start):
    """Offset from start of the second instruction there, from objdump."""
    r = mh.run(["objdump", "-d", "--start-address=%#x" % start,
                "--stop-address=%#x" % (start + 32), path])
    addrs = [int(l.split(":")[0], 16) for l in r.stdout.splitlines()
             if l.startswith("  ") and ":" in l]
    return addrs[1] - start


def test_raw_address_forms_launch(out):
    """The README's `-f exe:0xOFF -f 'libc:0xOFF+0xN'`, with offsets of this machine: libc
    is loaded after mhookd's first look at the process, which must not be an error."""
    exe_off = mh.symbol_value(mh.target("counter"), "counter_exe_fn")[0]
    getppid = dynsym(LIBC, "getppid")
    plus = second_insn(LIBC, getppid)
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "exe:" + hex(exe_off),
                   "-f", "libc:%#x+%#x" % (getppid, plus), "--",
                   mh.target("counter"), "2", "10"])
    assert r.returncode == 0, r.stderr
    ev = mh.read_events(out)
    ready = mh.of(ev, "ready")[0]
    assert sorted(h["lib"] for h in ready["hooks"]) == ["counter", "libc.so.6"], ready
    exe_hook = [h for h in ready["hooks"] if h["lib"] == "counter"][0]
    assert exe_hook["func"] == exe_hook["addr"]
    assert mh.counts(ev)[exe_hook["func"]] == 20


EXEC_LATER = """import os, sys
print("ready %d" % os.getpid(), flush=True)
sys.stdin.readline()
os.execv(sys.executable, [sys.executable, "-S", "-c",
         "import os\\nfor i in range(7): os.getppid()\\nprint('done')"])
"""


@pytest.mark.sanitize
def test_lib_offset_rearmed_after_exec_in_attach(procs, tmp_path, out):
    """Attached with -p: after the target execs, libc is loaded again only once the new
    program's dynamic linker runs, and the LIB:0xOFF hook must follow it there."""
    script = tmp_path / "exec_later.py"
    script.write_text(EXEC_LATER)
    off = dynsym(LIBC, "getppid")
    a = mh.Attached(procs, [mh.PYTHON, "-S", str(script)], ["-c", "-f", "libc:" + hex(off)],
                    out)
    a.go()
    assert mh.readline(a.t) == "done"
    assert mh.wait(a.t) == 0
    assert mh.wait(a.m) == 0, a.m.stderr.read()
    ev = mh.read_events(out)
    assert not mh.of(ev, "error"), mh.of(ev, "error")
    assert len(mh.of(ev, "armed")) == 1
    assert sum(e["calls"] for e in mh.of(ev, "summary")) == 7


def test_lib_offset_absent_is_error_with_p(procs, out):
    """With -p and no --pending, a LIB that is not loaded is still an error (exit 2)."""
    t = procs.popen([mh.target("counter"), "1", "1", "--wait"])
    assert mh.readline(t).startswith("ready ")
    r = mh.mhookd(["-p", str(t.pid), "-f", "libplugin:0x1000"])
    assert r.returncode == 2
    assert "no loaded object matches 'libplugin'" in mh.assert_error_line(r.stderr)


# ---- '+' in LIB ---------------------------------------------------------------------------


def flushes(out, n):
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "libstdc++:_ZNSo5flushEv", "--",
                   mh.target("cxxtarget"), str(n)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sum=")
    s = mh.summaries(mh.read_events(out))
    assert s["_ZNSo5flushEv"]["lib"].startswith("libstdc++.so.6")
    return s["_ZNSo5flushEv"]["calls"]


def test_lib_with_plus_in_its_name(out):
    """libstdc++ names an object; the '+'s are not an offset. The loop flushes once per
    round; libstdc++'s own flushes at exit are the same for any round count."""
    assert flushes(out, 25) - flushes(out, 0) == 25


# ---- C++ names ----------------------------------------------------------------------------


def cxx_counts(out, specs, n, extra=()):
    """Hooks specs in `cxxtarget n` (-c): the summaries' calls by reported name."""
    args = [a for sp in specs for a in ("-f", sp)]
    r = mh.mhookd(["-c", "--json", "-o", out] + list(extra) + args + ["--",
                  mh.target("cxxtarget"), str(n)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sum=")
    return {name: s["calls"] for name, s in mh.summaries(mh.read_events(out)).items()}


def test_cxx_source_names(out):
    """A SPEC may name a C++ function as written in source: with its parameters (its
    qualifiers and a template's return type left out, blanks as the user likes), or
    without them when it names one function. Each becomes the one symbol it names, and
    that symbol is what is reported (mangled, without -C)."""
    n = 7
    got = cxx_counts(out, ["ns::shape::area(int)", "ns::shape::area( double ) const",
                           "ns::twice<long>", "libstdc++:std::ostream::flush()"], n)
    assert got["_ZNK2ns5shape4areaEi"] == n
    assert got["_ZNK2ns5shape4areaEd"] == n
    assert got["_ZN2ns5twiceIlEET_S1_"] == n
    assert got["_ZNSo5flushEv"] >= n  # libstdc++ flushes cout itself too
    assert len(got) == 4


def test_cxx_ambiguous_name_lists_overloads():
    """Without its parameter list, an overloaded name is refused, naming every overload:
    a bad SPEC (exit status 1), as an ambiguous LIB is."""
    r = mh.mhookd(["-c", "-f", "ns::shape::area", "--", mh.target("cxxtarget"), "1"])
    assert r.returncode == 1
    line = mh.assert_error_line(r.stderr)
    assert "ambiguous" in line and "ns::shape::area(int) const" in line and \
        "ns::shape::area(double) const" in line and "parameter list" in line, line


def test_cxx_unknown_name_with_p_is_an_error(procs):
    t = procs.popen([mh.target("counter"), "1", "1", "--wait"])
    assert mh.readline(t).startswith("ready ")
    r = mh.mhookd(["-p", str(t.pid), "-f", "ns::nothing_here(int)"])
    assert r.returncode == 2
    assert "'ns::nothing_here(int)' not found" in mh.assert_error_line(r.stderr)


def test_demangle_option_names_events_and_list(out):
    """-C: events and summaries carry demangled names, and -l lists them, its GLOB
    matching the demangled name (return type left out) as well as the symbol."""
    n = 3
    r = mh.mhookd(["-C", "--json", "-o", out, "-f", "_ZN2ns5twiceIlEET_S1_", "-f",
                   "ns::shape::area(int)", "--", mh.target("cxxtarget"), str(n)])
    assert r.returncode == 0, r.stderr
    ev = mh.read_events(out)
    calls = [c["func"] for c in mh.of(ev, "call")]
    assert calls.count("long ns::twice<long>(long)") == n
    assert calls.count("ns::shape::area(int) const") == n
    assert set(mh.summaries(ev)) == {"long ns::twice<long>(long)",
                                     "ns::shape::area(int) const"}
    r = mh.mhookd(["-C", "-l", "ns::*", "--", mh.target("cxxtarget"), "1"])
    assert r.returncode == 0, r.stderr
    names = sorted(line.split("  ", 3)[3] for line in r.stdout.splitlines())
    assert names == ["long ns::twice<long>(long)", "ns::shape::area(double) const",
                     "ns::shape::area(int) const"], r.stdout
    r = mh.mhookd(["-l", "ns::*", "--", mh.target("cxxtarget"), "1"])  # without -C: none
    assert r.stdout == "" and "no function matches" in r.stderr


# ---- honest permission errors -----------------------------------------------------------


def test_eperm_kernel_thread():
    """kthreadd (pid 2) is a kernel thread: root cannot fix that."""
    r = mh.mhookd(["-p", "2", "-f", "malloc"])
    assert r.returncode == 2
    line = mh.assert_error_line(r.stderr)
    assert "kernel thread" in line and "run as root" not in line, line


def test_eperm_self():
    """mhookd -p with its own pid (the shell's pid, which exec makes mhookd's)."""
    r = mh.run(["sh", "-c", 'exec "$0" -p $$ -f malloc', mh.MHOOKD])
    assert r.returncode == 2
    line = mh.assert_error_line(r.stderr)
    assert "mhookd itself" in line and "run as root" not in line, line


@pytest.mark.skipif(os.geteuid() != 0, reason="the pid 1 hint is about what blocks root")
def test_eperm_pid1_says_what_blocked():
    """As root, tracing pid 1 may work (then nothing to explain) or be refused: then the
    reason is not 'run as root'."""
    r = mh.mhookd(["-p", "1", "-f", "malloc", "--duration", "0.1"])
    if r.returncode == 0:
        pytest.skip("pid 1 can be traced here")
    line = mh.assert_error_line(r.stderr)
    assert "run as root" not in line, line
    assert "cannot trace pid 1: Operation not permitted: " in line, line


# ---- duplicates -----------------------------------------------------------------------------


def test_second_spec_same_code_named_in_shared_with(out):
    """Two SPECs for one function: one hook, the other SPEC named (not its own address)."""
    off = mh.symbol_value(mh.target("counter"), "counter_exe_fn")[0]
    other = "exe:" + hex(off)
    r = mh.mhookd(["--json", "-c", "-o", out, "-f", "counter_exe_fn", "-f", other,
                   "-f", "libcounter:counter_lib_fn", "-f", "counter_lib_fn",
                   "--", mh.target("counter"), "2", "10"])
    assert r.returncode == 0, r.stderr
    ready = mh.of(mh.read_events(out), "ready")[0]
    hooks = {h["spec"]: h for h in ready["hooks"]}
    assert set(hooks) == {"counter_exe_fn", "libcounter:counter_lib_fn"}, ready
    assert hooks["counter_exe_fn"]["shared_with"] == [other]
    assert hooks["libcounter:counter_lib_fn"]["shared_with"] == ["counter_lib_fn"]
    r = mh.mhookd(["-c", "-f", "counter_exe_fn", "-f", other, "--",
                   mh.target("counter"), "1", "1"])
    assert "[same code as %s]" % other in r.stderr, r.stderr


# ---- JSON is UTF-8, and errors stay readable ------------------------------------------------


def test_bad_utf8_spec_is_escaped_in_json(out):
    r = mh.mhookd(["--json", "-o", out, "-f", b"\xff\xfeab".decode("latin-1").encode(
        "latin-1").decode("utf-8", "surrogateescape"), "--", "/bin/true"])
    assert r.returncode == 0, r.stderr
    raw = open(out, "rb").read()
    raw.decode("utf-8")  # strict: no raw bytes
    ready = mh.of(mh.read_events(out), "ready")[0]
    assert ready["pending"][0]["spec"] == "\\xff\\xfeab"
    assert "mhookd: warning: \\xff\\xfeab was never armed" in r.stderr  # escaped too


def test_long_name_not_echoed_twice():
    name = "a" * 5000
    r = mh.mhookd(["-p", str(os.getpid()), "-f", name])
    assert r.returncode != 0
    line = mh.assert_error_line(r.stderr)
    assert line.count(name) <= 1 and len(line) < 6000, len(line)
    assert "(5000 bytes)" in line, line[-300:]


def test_version():
    """--version prints one line, the version the socket's hello reports too."""
    r = mh.mhookd(["--version"])
    assert r.returncode == 0 and r.stderr == ""
    assert re.fullmatch(r"mhookd \d+\.\d+\.\d+\n", r.stdout), r.stdout


# ---- reports that cannot be written -------------------------------------------------------


def lost_line(stderr, path, why):
    line = mh.assert_error_line(stderr)
    assert line == ("mhookd: cannot write the reports to '%s': %s; reports were lost"
                    % (path, why)), line


@pytest.mark.parametrize("path,why", [("/dev/full", "No space left on device"),
                                      ("/proc/version", "Input/output error")])
@pytest.mark.parametrize("mode", [[], ["-c"], ["--json"]])
def test_write_error_exits_3(path, why, mode):
    """Every report lost is one line and exit status 3, and the command's output is as
    unhooked (mhookd detaches at the failure, so the command finishes unhooked)."""
    r = mh.mhookd(mode + ["-o", path, "-f", "counter_exe_fn", "--",
                          mh.target("counter"), "2", "300"])
    assert r.returncode == 3, r.stderr
    assert r.stdout == mh.run([mh.target("counter"), "2", "300"]).stdout
    lost_line(r.stderr, path, why)


def test_write_error_command_status_wins():
    """In launch mode a command that fails says more than the lost reports: its status."""
    r = mh.mhookd(["-c", "-o", "/dev/full", "-f", "malloc", "--", "/bin/sh", "-c",
                   "%s 1 10; exit 5" % mh.target("counter")])
    assert r.returncode == 5, r.stderr
    lost_line(r.stderr, "/dev/full", "No space left on device")


def test_write_error_attach_detaches_cleanly(procs):
    """With -p, the first report that cannot be written (ready) ends the run: mhookd
    detaches, exits 3, and the target runs on with its code as before."""
    t = procs.popen([mh.target("counter"), "2", "50", "--wait"])
    assert mh.readline(t).startswith("ready ")
    snap = mh.snapshot(t.pid)
    r = mh.mhookd(["-p", str(t.pid), "-o", "/dev/full", "-f", "counter_exe_fn"])
    assert r.returncode == 3, r.stderr
    lost_line(r.stderr, "/dev/full", "No space left on device")
    mh.assert_restored(snap, t.pid)
    mh.send_line(t)
    assert mh.readline(t) == mh.run([mh.target("counter"), "2", "50"]).stdout.strip()
    assert mh.wait(t) == 0


# ---- how each traced process ended --------------------------------------------------------


def test_exit_line_launch_text():
    """Text mode says how the command ended, once, before the summary table."""
    r = mh.mhookd(["-c", "-f", "counter_exe_fn", "--", mh.target("counter"), "1", "3"])
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    exits = [l for l in lines if l.startswith("exit: ")]
    assert len(exits) == 1 and re.fullmatch(r"exit: pid \d+ exited with status 0", exits[0]), \
        r.stderr
    assert lines.index(exits[0]) < [i for i, l in enumerate(lines) if "calls" in l][0]


def test_exit_event_launch_json(out):
    r = mh.mhookd(["--json", "-o", out, "-f", "fork_fn", "--",
                   mh.target("forker"), "child", "7", "5"])
    assert r.returncode == 7
    ev = mh.read_events(out)
    pid = mh.of(ev, "ready")[0]["pid"]
    assert mh.of(ev, "exit") == [{"event": "exit", "pid": pid, "status": 7}]


EXIT_LATER = """import os, sys
print("ready", os.getpid(), flush=True)
sys.stdin.readline()
os.getppid()
sys.exit(4)
"""


def test_attach_target_exits_gives_its_status(procs, out):
    """-p, the target ends while traced: mhookd reports it and exits with its status."""
    a = mh.Attached(procs, [mh.PYTHON, "-S", "-c", EXIT_LATER], ["-f", "getppid"], out)
    a.go()
    assert mh.wait(a.t) == 4
    assert mh.wait(a.m) == 4, a.m.stderr.read()
    ev = mh.read_events(out)
    assert mh.of(ev, "exit") == [{"event": "exit", "pid": a.pid, "status": 4}]
    assert mh.counts(ev) == {"getppid": 1}


def test_attach_target_killed(procs, out):
    """-p, the target dies of SIGKILL: an exit event with the signal, exit status 137."""
    a = mh.Attached(procs, [mh.target("counter"), "1", "1", "--wait"], ["-f", "counter_exe_fn"],
                    out)
    os.kill(a.pid, signal.SIGKILL)
    assert mh.wait(a.m) == 128 + signal.SIGKILL, a.m.stderr.read()
    ev = mh.read_events(out)
    assert mh.of(ev, "exit") == [{"event": "exit", "pid": a.pid, "signal": 9, "name": "SIGKILL"}]


def test_attach_detached_first_exits_0(procs, out):
    """-p, mhookd detaches first (SIGINT): status 0 and no exit event; the target lives on."""
    a = mh.Attached(procs, [mh.target("counter"), "1", "1", "--wait"], ["-f", "counter_exe_fn"],
                    out)
    assert mh.interrupt(a.m) == 0, a.m.stderr.read()
    assert not mh.of(mh.read_events(out), "exit")
    a.go()
    assert mh.readline(a.t).startswith("total=")
    assert mh.wait(a.t) == 0


# ---- -t, -tt, -ttt ------------------------------------------------------------------------


@pytest.mark.parametrize("flag,rx", [
    ([], r"\d+\.\d{6}"),
    (["-t"], r"\d\d:\d\d:\d\d"),
    (["-tt"], r"\d\d:\d\d:\d\d\.\d{6}"),
    (["-ttt"], r"\d{10}\.\d{6}"),
    (["-t", "-t"], r"\d\d:\d\d:\d\d\.\d{6}"),
])
def test_time_of_day(flag, rx):
    """The call lines' time field, as strace's -t forms; -ttt is near time.time()."""
    before = time.time()
    r = mh.mhookd(flag + ["-f", "counter_exe_fn", "--", mh.target("counter"), "1", "3"])
    after = time.time()
    assert r.returncode == 0, r.stderr
    calls = [l for l in r.stderr.splitlines() if "counter_exe_fn(" in l]
    assert len(calls) == 3, r.stderr
    for l in calls:
        assert re.fullmatch(rx + r" \[\d+\] counter_exe_fn\(0x[0-9a-f]+(, 0x[0-9a-f]+){5}\)", l), l
        if flag == ["-ttt"]:
            assert before - 1 <= float(l.split()[0]) <= after + 1, l
        if flag == ["-t"]:
            now = time.localtime(before)
            h, m_, s_ = (int(x) for x in l.split()[0].split(":"))
            assert abs((h * 3600 + m_ * 60 + s_) - (now.tm_hour * 3600 + now.tm_min * 60
                                                     + now.tm_sec)) <= 2 or h == 0, l


def test_time_of_day_at_most_three():
    r = mh.mhookd(["-tttt", "-f", "x", "--", "/bin/true"])
    assert r.returncode == 1
    assert "-t is given at most three times" in mh.assert_error_line(r.stderr)


# ---- SPECs never armed: a warning, or with --strict a failure ------------------------------


def test_never_armed_warns():
    """Launch mode: a name nothing defines stays pending, the run goes on, and the end says
    so in one warning line after the summary (the exit status is the command's)."""
    r = mh.mhookd(["-c", "-f", "counter_exe_fn", "-f", "no_such_fn", "--",
                   mh.target("counter"), "1", "3"])
    assert r.returncode == 0, r.stderr
    warn = [l for l in r.stderr.splitlines() if "warning" in l]
    assert len(warn) == 1, r.stderr
    assert warn[0].startswith("mhookd: warning: no_such_fn was never armed: "), warn
    assert r.stderr.splitlines()[-1] == warn[0]


def test_strict_fails_with_2():
    """--strict: status 2 after the command finished, its output as unhooked."""
    r = mh.mhookd(["--strict", "-c", "-f", "counter_exe_fn", "-f", "no_such_fn", "--",
                   mh.target("counter"), "1", "3"])
    assert r.returncode == 2, r.stderr
    assert r.stdout == mh.run([mh.target("counter"), "1", "3"]).stdout
    assert r.stderr.splitlines()[-1] == "mhookd: --strict: 1 SPEC was never armed"


def test_strict_command_failure_wins():
    r = mh.mhookd(["--strict", "-c", "-f", "no_such_fn", "--", "/bin/sh", "-c", "exit 5"])
    assert r.returncode == 5, r.stderr


def test_strict_all_armed_is_clean(out):
    r = mh.mhookd(["--strict", "-c", "--json", "-o", out, "-f", "counter_exe_fn", "--",
                   mh.target("counter"), "1", "3"])
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""


def test_strict_spec_armed_by_dlopen_is_clean(out):
    """A SPEC pending at start but armed later (dlopen) was armed: no warning."""
    r = mh.mhookd(["--strict", "-c", "--json", "-o", out, "-f", "plugin_fn", "--"] + loader())
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr


# ---- several targets ----------------------------------------------------------------------


def waiting_counters(procs, n, threads=2, iters=30):
    ts = []
    for _ in range(n):
        t = procs.popen([mh.target("counter"), str(threads), str(iters), "--wait"])
        assert mh.readline(t) == "ready %d" % t.pid
        ts.append(t)
    return ts


@pytest.mark.parametrize("form", ["comma", "repeated"])
def test_several_pids(procs, out, form):
    """-p A,B (or -p A -p B): one session each, a ready each, exact per-pid counts in the
    summaries, an exit each, and both targets' output as unhooked."""
    ts = waiting_counters(procs, 2)
    pids = [t.pid for t in ts]
    p = (["-p", "%d,%d" % tuple(pids)] if form == "comma"
         else ["-p", str(pids[0]), "-p", str(pids[1])])
    m = procs.popen([mh.MHOOKD, "-c", "--json", "-o", out, "-f", "counter_exe_fn"] + p,
                    stdin=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(out) and len(mh.of(mh.read_events(out), "ready")) == 2:
            break
        time.sleep(0.05)
    for t in ts:
        mh.send_line(t)
        assert mh.readline(t) == mh.run([mh.target("counter"), "2", "30"]).stdout.strip()
        assert mh.wait(t) == 0
    assert mh.wait(m) == 0, m.stderr.read()
    ev = mh.read_events(out)
    assert sorted(r["pid"] for r in mh.of(ev, "ready")) == sorted(pids)
    assert sorted(e["pid"] for e in mh.of(ev, "exit")) == sorted(pids)
    s = mh.summaries(ev)["counter_exe_fn"]
    assert s["calls"] == 2 * 60
    assert {int(k): v for k, v in s["per_pid"].items()} == {pids[0]: 60, pids[1]: 60}


def test_several_pids_one_fails_detaches_all(procs):
    """A second pid that cannot be traced ends the run; the first is given back as it was."""
    t, = waiting_counters(procs, 1)
    snap = mh.snapshot(t.pid)
    r = mh.mhookd(["-p", "%d,999999999" % t.pid, "-f", "counter_exe_fn"])
    assert r.returncode == 2
    assert "no process with pid 999999999" in r.stderr
    mh.assert_restored(snap, t.pid)
    mh.send_line(t)
    assert mh.readline(t).startswith("total=")


@pytest.mark.parametrize("args,msg", [
    (["-p", "1,1"], "pid 1 is given twice"),
    (["-p", "1", "-p", "1"], "pid 1 is given twice"),
    (["-p", "1,"], "-p wants a process id or a comma-separated list of them, not '1,'"),
    (["-p", "1,x"], "-p wants a process id or a comma-separated list of them, not '1,x'"),
    (["-p", "1,2", "-l", "x"], "-l lists one process: give one -p PID"),
])
def test_several_pids_bad_usage(args, msg):
    r = mh.mhookd(args + ["-f", "x"] if "-l" not in args else args)
    assert r.returncode == 1
    assert msg in mh.assert_error_line(r.stderr)


def test_demo_prints_commands_a_user_can_paste():
    """tools/demo.sh shows each command with its arguments quoted where they need it: read
    back by sh, the line gives the same arguments."""
    demo = open(os.path.join(mh.REPO, "tools", "demo.sh")).read()
    show = demo[demo.index("show() {"):demo.index("run() {")]
    args = ["build/mhookd", "-c", "-f", "x", "--", "python3", "-c",
            "import sqlite3; print('hi')", "it's", "", "a b", "$HOME", "*", "plain-1.0:x"]
    r = mh.run(["sh", "-c", show + '\nshow "$@"', "sh"] + args)
    assert r.returncode == 0 and r.stdout.startswith("$ "), r
    line = r.stdout[2:].rstrip("\n")
    back = mh.run(["sh", "-c", "eval \"set -- $0\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done",
                   line])
    assert back.stdout.split("\0")[:-1] == args, (line, back.stdout)
