"""-s step, the seed's own re-arm kept for comparison: what it refuses and why. Its exact
counts under threads, signals, children and detach come from every test that takes the
`strategy` fixture (mh.STRATEGIES)."""

import re

import mh

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def getpid_syscall_spec():
    """libc:getpid+0xN where N is the offset of getpid's `syscall` instruction (glibc:
    mov eax, 0x27; syscall; ret), read from the disassembly of this machine's libc."""
    r = mh.run(["gdb", "-batch", "-ex", "x/4i getpid", LIBC])
    m = re.search(r"<[\w.]*getpid\+(\d+)>:\s+syscall", r.stdout)
    assert m, r.stdout + r.stderr
    return "libc:getpid+0x%x" % int(m.group(1))


def test_refuses_a_syscall_instruction(out):
    """Stepping a system call with every other thread stopped could block for ever (a
    futex another thread must wake): refused with the reason and the way out."""
    spec = getpid_syscall_spec()
    r = mh.mhookd(["-s", "step", "-c", "-f", spec, "--", "/bin/true"])
    assert r.returncode == 2
    assert "is a system call" in r.stderr and "use -s swbp" in r.stderr, r.stderr
    # swbp takes the same address.
    r = mh.mhookd(["-s", "swbp", "-c", "-o", out, "-f", spec, "--", "/bin/true"])
    assert r.returncode == 0, r.stderr


def test_counts_exact_with_threads_calling_at_once(out):
    """Every hit stops the other threads around the step; none slips through the entry
    while its byte is restored."""
    n, threads = 3000, 4
    r = mh.mhookd(["-s", "step", "-c", "--json", "-o", out, "-f", "bench_fn", "--",
                   mh.target("bench_target"), str(n), str(threads)])
    assert r.returncode == 0, r.stderr
    assert mh.counts(mh.read_events(out)) == {"bench_fn": n * threads}
