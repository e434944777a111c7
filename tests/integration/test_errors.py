"""Error cases of the command line: one line on stderr starting with `mhookd: `, exit status 1
for bad usage or a bad SPEC, 2 when the target cannot be traced or a function cannot be
hooked; and the target is left as it was. Plus launch-mode exit status passthrough and
the -l listing."""

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

import mh
from test_counter import counter

USER = "mhook-test"


def free_pid():
    pid_max = int(open("/proc/sys/kernel/pid_max").read())
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid


@pytest.mark.sanitize
def test_no_such_pid():
    r = mh.mhookd(["-p", str(free_pid()), "-f", "malloc"])
    assert r.returncode == 2
    mh.assert_error_line(r.stderr)
    assert r.stdout == ""


def test_already_traced_by_mhookd(procs, waiting, out):
    first = procs.popen([mh.MHOOKD, "-p", str(waiting.pid), "--json", "-c", "-o", out,
                         "-f", "counter_exe_fn"], stdin=subprocess.DEVNULL)
    mh.wait_for_file_event(out, "ready", first)
    r = mh.mhookd(["-p", str(waiting.pid), "-f", "counter_lib_fn"])
    assert r.returncode == 2
    mh.assert_error_line(r.stderr)
    # the first mhookd is unharmed and detaches cleanly
    assert mh.interrupt(first) == 0, first.stderr.read()
    assert mh.counts(mh.read_events(out)) == {"counter_exe_fn": 0}


def test_already_traced_by_strace(procs, waiting):
    if not shutil.which("strace"):
        pytest.skip("no strace")
    s = procs.popen(["strace", "-qq", "-e", "trace=none", "-p", str(waiting.pid)],
                    stdin=subprocess.DEVNULL)
    for _ in range(500):
        if "\nTracerPid:\t%d\n" % s.pid in open("/proc/%d/status" % waiting.pid).read():
            break
        import time
        time.sleep(0.01)
    else:
        raise AssertionError("strace did not attach")
    r = mh.mhookd(["-p", str(waiting.pid), "-f", "counter_exe_fn"])
    assert r.returncode == 2
    mh.assert_error_line(r.stderr)
    assert mh.interrupt(s) in (0, -signal.SIGINT, 128 + signal.SIGINT)


def ensure_user():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        r = mh.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER])
        if r.returncode != 0:
            pytest.skip("cannot create user %s: %s" % (USER, r.stderr.strip()))


@pytest.mark.sanitize
def test_eperm(waiting, tmp_path):
    """An unprivileged user cannot trace a root process (there is no Yama here)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    ensure_user()
    d = tempfile.mkdtemp()
    try:
        os.chmod(d, 0o755)
        exe = os.path.join(d, "mhookd")
        shutil.copy(mh.MHOOKD, exe)
        os.chmod(exe, 0o755)
        r = mh.run(["runuser", "-u", USER, "--", exe, "-p", str(waiting.pid),
                    "-f", "counter_exe_fn"], cwd="/")
    finally:
        shutil.rmtree(d)
    assert r.returncode == 2, r.stderr
    mh.assert_error_line(r.stderr)


@pytest.mark.sanitize
def test_unknown_function_attach(waiting):
    r = mh.mhookd(["-p", str(waiting.pid), "-f", "counter_exe_fnn"])
    assert r.returncode == 2
    line = mh.assert_error_line(r.stderr)
    assert "counter_exe_fnn" in line
    assert re.search(r"\bcounter_exe_fn\b(?!n)", line.replace("counter_exe_fnn", "")), line


def test_unknown_function_with_a_good_one(waiting):
    """One bad -f among good ones: nothing is hooked, the target is left as it was."""
    r = mh.mhookd(["-p", str(waiting.pid), "-f", "counter_exe_fn", "-f", "no_such_function_xyz"])
    assert r.returncode == 2
    line = mh.assert_error_line(r.stderr)
    assert "no_such_function_xyz" in line


def test_unknown_function_in_loaded_lib_launch():
    """LIB is loaded but does not define NAME: an error, not something to wait for."""
    r = mh.mhookd(["-f", "libcounter:counter_lib_fnn", "--"] + counter(1, 10))
    assert r.returncode == 2
    line = mh.assert_error_line(r.stderr)
    assert "counter_lib_fn" in line.replace("counter_lib_fnn", "")
    assert "total=" not in r.stdout  # the command did not run unhooked


def test_unknown_bare_name_launch_is_pending(tmp_path):
    """In launch mode a bare NAME may come with a library loaded later (dlopen): it is
    accepted, listed as pending in ready (with close names), and summarised unarmed."""
    out = str(tmp_path / "events")
    r = mh.mhookd(["--json", "-o", out, "-f", "counter_lib_fnn", "-f", "counter_exe_fn",
                   "--"] + counter(1, 10))
    assert r.returncode == 0, r.stderr
    assert "total=" in r.stdout
    events = mh.read_events(out)
    ready = mh.of(events, "ready")[0]
    assert [p["spec"] for p in ready["pending"]] == ["counter_lib_fnn"]
    assert "counter_lib_fn" in ready["pending"][0]["why"].replace("counter_lib_fnn", "")
    sums = {e["func"]: e for e in mh.of(events, "summary")}
    assert sums["counter_lib_fnn"]["calls"] == 0 and sums["counter_lib_fnn"]["armed"] is False
    assert sums["counter_exe_fn"]["calls"] == 10 and sums["counter_exe_fn"]["armed"] is True


def test_unknown_lib(waiting):
    r = mh.mhookd(["-p", str(waiting.pid), "-f", "libnosuchlib:counter_exe_fn"])
    assert r.returncode == 2
    mh.assert_error_line(r.stderr)


@pytest.mark.sanitize
@pytest.mark.parametrize("spec", ["libc:", ""])
def test_bad_spec(spec):
    r = mh.mhookd(["-f", spec, "--"] + counter(1, 10))
    assert r.returncode == 1
    mh.assert_error_line(r.stderr)
    assert "total=" not in r.stdout


def test_bad_spec_attach(waiting):
    r = mh.mhookd(["-p", str(waiting.pid), "-f", "libc:"])
    assert r.returncode == 1
    mh.assert_error_line(r.stderr)


@pytest.mark.parametrize("args", [
    ["--"] + counter(1, 10),                          # no -f
    ["-p", "1"],                                      # no -f
    ["--bogus-option", "-f", "counter_exe_fn", "--"] + counter(1, 10),
    ["-f", "counter_exe_fn"],                         # neither -p nor a command
    ["-p", "notapid", "-f", "counter_exe_fn"],
    ["-p", "1", "-f", "x", "--", "/bin/true"],        # both -p and a command
    ["-s", "nosuchstrategy", "-f", "counter_exe_fn", "--"] + counter(1, 10),
    ["--duration", "soon", "-f", "counter_exe_fn", "--"] + counter(1, 10),
])
def test_bad_usage(args):
    r = mh.mhookd(args)
    assert r.returncode == 1, (args, r.stderr)
    mh.assert_error_line(r.stderr)
    assert "total=" not in r.stdout


def test_help():
    r = mh.mhookd(["--help"])
    assert r.returncode == 0
    assert "-f" in r.stdout and "--json" in r.stdout
    for later in ("--ret", "--backtrace"):
        assert later not in r.stdout, "a later issue's option is in --help"
    # The README's usage section is --help, verbatim, so the two cannot drift apart.
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    assert "```\n" + r.stdout + "```\n" in readme, "README's usage differs from --help"


# --- launch-mode exit status -------------------------------------------------------------

@pytest.mark.sanitize
def test_exit_status_passthrough(out):
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "fork_fn", "--",
                   mh.target("forker"), "child", "7", "5"])
    assert r.returncode == 7
    assert r.stdout == "child 5\n"
    assert mh.counts(mh.read_events(out)) == {"fork_fn": 5}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_exit_status_killed(sig, out):
    py = "import os, signal\nos.getppid()\nos.kill(os.getpid(), %d)\n" % sig
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "getppid", "--", mh.PYTHON, "-S", "-c", py])
    assert r.returncode == 128 + sig, r.stderr
    assert mh.counts(mh.read_events(out)) == {"getppid": 1}


def test_command_not_found():
    r = mh.mhookd(["-f", "main", "--", "/nonexistent/program"])
    assert r.returncode != 0
    assert r.stderr.strip(), "no message"
    assert mh.assert_error_line(r.stderr)


# --- -l listing --------------------------------------------------------------------------

# LIB  0xADDR  SIZE  NAME, optionally followed by notes such as [ifunc]
LIST_RX = re.compile(r"^(\S+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+(\S+)(?:\s+\[.*\])?$")


def listing(text):
    rows = {}
    for line in text.splitlines():
        m = LIST_RX.match(line.strip())
        if m:
            rows[m.group(4)] = (m.group(1), int(m.group(2), 16), int(m.group(3), 0))
    return rows


@pytest.mark.sanitize
def test_list_attach(waiting):
    r = mh.mhookd(["-p", str(waiting.pid), "-l", "counter_*"])
    assert r.returncode == 0, r.stderr
    rows = listing(r.stdout + "\n" + r.stderr)
    assert set(rows) == {"counter_exe_fn", "counter_lib_fn"}, r.stdout + r.stderr
    exe_base = mh.load_base(waiting.pid, "/counter")
    lib_base = mh.load_base(waiting.pid, "/libcounter.so")
    v, size = mh.symbol_value(mh.target("counter"), "counter_exe_fn")
    assert rows["counter_exe_fn"] == ("counter", exe_base + v, size)
    v, size = mh.symbol_value(mh.target("libcounter.so"), "counter_lib_fn")
    assert rows["counter_lib_fn"] == ("libcounter.so", lib_base + v, size)


def test_list_launch():
    r = mh.mhookd(["-l", "hz_j*", "--", mh.target("hazards"), "10"])
    assert r.returncode == 0, r.stderr
    rows = listing(r.stdout + "\n" + r.stderr)
    # the global functions; static ones (hz_jmpind_body) may be listed too
    assert {"hz_jcc", "hz_jcc_call", "hz_jmp", "hz_jmpind", "hz_jrcxz"} <= set(rows), rows
    assert all(name.startswith("hz_j") for name in rows), rows
    for name, (lib, addr, size) in rows.items():
        assert lib == "hazards"
        assert size == mh.symbol_value(mh.target("hazards"), name)[1]
    assert "hz_riprel" not in r.stdout  # the command did not run: listing only


def test_list_libc_glob(waiting):
    r = mh.mhookd(["-p", str(waiting.pid), "-l", "pthread_mutex_lo*"])
    assert r.returncode == 0, r.stderr
    rows = listing(r.stdout + "\n" + r.stderr)
    assert "pthread_mutex_lock" in rows and rows["pthread_mutex_lock"][0] == "libc.so.6", rows


def test_list_launch_lists_what_is_loaded_at_entry():
    """As --help says: -l with a command lists what is loaded at its entry point (libctor,
    linked), kills the command before main, and so never sees its dlopen (libplugin)."""
    r = mh.mhookd(["-l", "*_fn", "--", mh.target("loader"), "1", "1"])
    assert r.returncode == 0, r.stderr
    libs = {line.split()[0] for line in r.stdout.splitlines() if line.strip()}
    assert "libctor.so" in libs, r.stdout
    assert "libplugin.so" not in libs, r.stdout
    assert "plugin" not in r.stdout.replace("libplugin", "")  # main did not run
