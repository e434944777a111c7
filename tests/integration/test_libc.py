"""libc functions and argument registers: an IFUNC (strlen) is hooked at the implementation
the target uses, so its calls are counted; memcpy and memmove share one implementation on
x86-64, which the ready event says; all six argument registers are reported in order."""

import pytest

import mh

M64 = (1 << 64) - 1


def libcalls(n):
    return [mh.target("libcalls"), str(n)]


def expected_stdout(n):
    words = ["", "a", "hello", "sixteen bytes...",
             "a string longer than thirty-two bytes, for the vector loop"]
    lens = sum(len(words[i % 5]) for i in range(n))
    six = 0
    for i in range(n):
        a = [i, -i, i << 8, 0x7fffffffffffffff - i, -0x8000000000000000 + i, 0xabcdef]
        v = sum((k + 1) * x for k, x in enumerate(a))
        six = ((six + v + (1 << 63)) % (1 << 64)) - (1 << 63)  # long arithmetic wraps
    return "strlen=%d six=%d\n" % (lens, six)


@pytest.mark.sanitize
def test_ifunc_strlen(strategy, out):
    n = 700
    plain = mh.run(libcalls(n))
    assert plain.stdout == expected_stdout(n)
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "strlen", "--"]
                  + libcalls(n))
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout
    ev = mh.read_events(out)
    s = mh.summaries(ev)
    assert s["strlen"]["lib"] == "libc.so.6"
    # every call the program makes; libc makes none of its own on this path
    assert s["strlen"]["calls"] == n


def test_memcpy_memmove_shared(out):
    """Both names resolve to one implementation: hooking both is reported (or refused),
    never two breakpoints on one entry."""
    r = mh.mhookd(["-c", "--json", "-o", out, "-f", "memcpy", "-f", "memmove", "--"]
                  + libcalls(5))
    if r.returncode != 0:
        assert r.returncode in (1, 2)
        mh.assert_error_line(r.stderr)
        return
    assert r.stdout == expected_stdout(5)
    ev = mh.read_events(out)
    hooks = mh.of(ev, "ready")[0]["hooks"]
    addrs = [h["addr"] for h in hooks]
    assert len(set(addrs)) == len(addrs), "two hooks at one address"
    assert "memmove" in str(hooks), hooks


@pytest.mark.sanitize
def test_six_arguments(strategy, out):
    n = 50
    r = mh.mhookd(["-s", strategy, "--json", "-o", out, "-f", "six_fn", "--"] + libcalls(n))
    assert r.returncode == 0, r.stderr
    assert r.stdout == expected_stdout(n)
    calls = mh.of(mh.read_events(out), "call")
    assert len(calls) == n
    for i, c in enumerate(calls):
        mh.check_call_event(c)
        want = [i, -i, i << 8, 0x7fffffffffffffff - i, -0x8000000000000000 + i, 0xabcdef]
        assert c["args"] == [hex(x & M64) for x in want], (i, c["args"])


# ---- IFUNCs nothing has bound yet: mhookd runs the resolver ---------------------------------


def lazyifunc(*args):
    return [mh.target("lazyifunc")] + [str(a) for a in args]


def lazy_stdout(n):
    return "strncat=%d len=%d\n" % (n, sum(i % 4 for i in range(n)))


@pytest.mark.sanitize
def test_unbound_ifunc_launch(strategy, out):
    """strncat is an IFUNC that lazyifunc's lazy PLT slot binds only at its first call, and
    that libc never calls: at the entry point nothing names its implementation. mhookd
    runs the resolver there, in the target, and hooks what it returns: every call is
    counted, and the program is unchanged."""
    n = 30
    r = mh.mhookd(["-s", strategy, "-c", "--json", "-o", out, "-f", "libc:strncat", "--"]
                  + lazyifunc(n))
    assert r.returncode == 0, r.stderr
    assert r.stdout == lazy_stdout(n)
    ev = mh.read_events(out)
    assert not mh.of(ev, "error"), mh.of(ev, "error")
    assert mh.summaries(ev)["strncat"]["calls"] == n


def test_unbound_ifunc_attach(procs, out):
    """Attached while the target waits in read(): the resolver runs in that thread, which
    then goes back to its read as if nothing happened, and the hook is armed at ready."""
    n = 25
    t = procs.popen(lazyifunc(n, "--wait"))
    pid = int(mh.readline(t).split()[1])
    m = procs.popen([mh.MHOOKD, "-p", str(pid), "--json", "-c", "-o", out, "-f",
                     "libc:strncat"])
    ready = mh.wait_for_file_event(out, "ready", m)
    assert [h["func"] for h in ready["hooks"]] == ["strncat"] and ready["pending"] == [], ready
    mh.send_line(t)
    assert mh.readline(t) + "\n" == lazy_stdout(n)
    assert mh.wait(t) == 0
    assert mh.wait(m) == 0, m.stderr.read()
    assert mh.summaries(mh.read_events(out))["strncat"]["calls"] == n


def test_resolver_result_and_fault(out):
    """lazyifunc's own IFUNCs, never referenced: lz_good's resolver returns lz_impl, which is
    what gets hooked; lz_bad's faults, which fails that SPEC with the reason and leaves the
    target as it was."""
    r = mh.mhookd(["--json", "-o", out, "-f", "lz_good", "-f", "lz_bad", "--"] + lazyifunc(3))
    assert r.returncode == 0, r.stderr
    assert r.stdout == lazy_stdout(3)
    assert "lz_bad was never armed" in r.stderr and "its resolver failed: it faulted " \
        "(signal 11)" in r.stderr, r.stderr
    ev = mh.read_events(out)
    armed = [e for e in mh.of(ev, "armed") if e["func"] == "lz_good"]
    assert len(armed) == 1, ev
    impl, _ = mh.symbol_value(mh.target("lazyifunc"), "lz_impl")
    good, _ = mh.symbol_value(mh.target("lazyifunc"), "lz_good")  # the resolver
    assert (impl ^ good) & 0xfff
    # lz_impl's address: its file address plus the load base, which is page-aligned
    assert (int(armed[0]["addr"], 16) - impl) & 0xfff == 0, (armed[0]["addr"], hex(impl))
