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
