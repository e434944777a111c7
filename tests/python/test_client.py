"""The Python client (tools/python/mhook) against a fake mhookd: a Unix listening socket in
a thread that sends hello, then answers each request line with what the test's handler
yields (dicts as JSON lines, bytes as they are, a float to sleep, "close" to hang up)."""

import json
import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tools", "python"))
import mhook  # noqa: E402

HELLO = {"event": "hello", "protocol": 1, "version": "0.9", "pid": 4242,
         "strategies": ["swbp", "hwbp", "nx"], "client": 3, "uid": 1000}


def ok(req, **fields):
    return {"id": req["id"], "ok": True, **fields}


class FakeServer:
    def __init__(self, path, handler, hello=HELLO):
        self.path, self.handler, self.hello = str(path), handler, hello
        self.lines = []  # raw request lines, as the client wrote them
        self.requests = []  # those of them that parse
        self.saw_eof = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        with conn, conn.makefile("rb") as rf:
            if not self._send(conn, [self.hello]):
                return
            for line in rf:
                self.lines.append(line)
                try:
                    req = json.loads(line.decode("utf-8", "surrogateescape"))
                    self.requests.append(req)
                except ValueError:
                    req = None
                if not self._send(conn, self.handler(req)):
                    return
            self.saw_eof.set()

    @staticmethod
    def _send(conn, items):
        for item in items:
            if item == "close":
                return False
            if isinstance(item, float):
                time.sleep(item)
            elif isinstance(item, bytes):
                conn.sendall(item)
            else:
                conn.sendall(json.dumps(item).encode() + b"\n")
        return True

    def close(self):
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(handler, name="mhookd.sock", **kw):
        servers.append(FakeServer(tmp_path / name, handler, **kw))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def echo(req):
    yield ok(req, op=req["op"])


def test_hello_ids_and_fields(serve):
    srv = serve(echo)
    with mhook.connect(srv.path) as c:
        assert c.hello["client"] == 3 and c.hello["pid"] == 4242
        assert c.attach(1234) == {"id": 1, "ok": True, "op": "attach"}
        c.hook(1234, "malloc")
        c.hook(1234, "free", strategy="hwbp", pending=True, keep=True)
        c.subscribe(pids=(1234,), kinds=["call"])
        assert c.stats()["id"] == 5
    assert [r["id"] for r in srv.requests] == [1, 2, 3, 4, 5]
    # Unset optionals are not sent, so mhookd's defaults apply.
    assert srv.requests[1] == {"id": 2, "op": "hook", "pid": 1234, "spec": "malloc"}
    assert srv.requests[2] == {"id": 3, "op": "hook", "pid": 1234, "spec": "free",
                               "strategy": "hwbp", "pending": True, "keep": True}
    assert srv.requests[3] == {"id": 4, "op": "subscribe", "pids": [1234], "kinds": ["call"]}
    assert srv.saw_eof.wait(5), "context exit did not close the connection"


def test_events_buffered_in_order_replies_matched(serve):
    def handler(req):
        n = req["id"] * 10
        yield {"event": "call", "n": n + 1}
        yield {"event": "call", "n": n + 2}
        if req["op"] == "list":
            yield ok(req, targets=[{"pid": 1234}])
        else:
            yield ok(req, symbols=[{"name": "strcpy"}], truncated=True)
            yield {"event": "call", "n": n + 3}
            yield {"event": "bye", "reason": "mhookd got SIGTERM"}
            # The connection stays open: events() must stop at bye, not wait for EOF.

    with mhook.connect(serve(handler).path) as c:
        assert c.list() == [{"pid": 1234}]
        assert c.read_line(timeout=5) == {"event": "call", "n": 11}  # the buffer comes first
        syms = c.symbols(1234, "str*cpy")
        assert syms == [{"name": "strcpy"}] and syms.truncated is True
        evs = list(c.events(timeout=5))
        assert [e.get("n") for e in evs] == [12, 21, 22, 23, None]
        assert evs[-1]["event"] == "bye" and c.bye["reason"] == "mhookd got SIGTERM"
        with pytest.raises(TimeoutError):
            c.read_line(timeout=0.05)


def test_error_reply_raises_and_connection_goes_on(serve):
    def handler(req):
        if req["op"] == "hook":
            yield {"id": req["id"], "ok": False, "code": "not_found",
                   "error": "no function 'malocc' in pid 1234 (close: malloc, calloc)"}
        else:
            yield ok(req)

    with mhook.connect(serve(handler).path) as c:
        with pytest.raises(mhook.Error) as e:
            c.hook(1234, "malocc")
        assert e.value.code == "not_found"
        assert e.value.message.startswith("no function 'malocc'")
        assert e.value.reply["id"] == 1
        assert c.unhook(1234, "malloc")["id"] == 2


def test_send_raw_and_stray_replies(serve):
    def handler(req):
        if req is None:
            yield {"id": None, "ok": False, "code": "bad_request", "error": "not JSON"}
        elif req["op"] == "frob":
            yield {"id": req["id"], "ok": False, "code": "unknown_op", "error": "frob?"}
        else:
            yield ok(req)

    with mhook.connect(serve(handler).path) as c:
        c.send_raw(b"{not json\n")
        assert c.read_line(timeout=5) == {"id": None, "ok": False, "code": "bad_request",
                                          "error": "not JSON"}
        # A reply the client never waited for must not be taken for the next request's.
        c.send_raw(b"garbage\n")
        assert c.detach(1) == {"id": 1, "ok": True}
        with pytest.raises(mhook.Error) as e:
            c.request("frob", x=1)
        assert (e.value.code, e.value.reply["id"]) == ("unknown_op", 2)


def test_surrogateescape_round_trip(serve):
    def handler(req):
        yield b'{"event":"call","func":"f\xff"}\n'
        yield ok(req)

    srv = serve(handler)
    with mhook.connect(srv.path) as c:
        c.subscribe()
        ev = next(c.events(timeout=5))
        assert ev["func"].encode("utf-8", "surrogateescape") == b"f\xff"
        c.hook(1, ev["func"])
    assert b'"spec": "f\xff"' in srv.lines[1]


def test_timeouts_lose_nothing(serve):
    def handler(req):
        if req["op"] == "attach":
            yield 0.5
        yield ok(req)
        if req["op"] == "subscribe":
            yield 0.5
            yield {"event": "exit", "pid": 1234, "status": 0}

    with mhook.connect(serve(handler).path, timeout=0.1) as c:
        t = time.monotonic()
        with pytest.raises(TimeoutError):
            c.attach(1234)
        assert 0.1 <= time.monotonic() - t < 0.4
        c.timeout = 5
        c.subscribe()  # skips attach's late reply (id 1) and takes its own (id 2)
        with pytest.raises(TimeoutError):
            next(c.events(timeout=0.05))
        with pytest.raises(TimeoutError):
            c.read_line(timeout=0.05)
        assert next(c.events(timeout=5)) == {"event": "exit", "pid": 1234, "status": 0}


def test_eof_ends_events_and_fails_requests(serve):
    def handler(req):
        yield ok(req)
        if req["op"] == "raw":
            yield {"event": "call", "n": 1}
            yield "close"

    with mhook.connect(serve(handler).path) as c:
        c.subscribe()
        c.send_raw(b'{"id":9,"op":"raw"}\n')  # its reply comes inside events(), which skips it
        assert list(c.events()) == [{"event": "call", "n": 1}]
        assert c.read_line() is None
        with pytest.raises(ConnectionError):
            c.stats()


def test_not_hello_first_is_protocol_error(serve):
    srv = serve(echo, hello={"event": "hello", "protocol": 2})
    with pytest.raises(mhook.ProtocolError, match="protocol 2"):
        mhook.connect(srv.path)


def test_default_path(monkeypatch, tmp_path, serve):
    monkeypatch.setenv("MHOOK_SOCKET", "/x/y.sock")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert mhook.default_path() == "/x/y.sock"
    monkeypatch.delenv("MHOOK_SOCKET")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert mhook.default_path() == "/run/mhook/mhookd.sock"
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert mhook.default_path() == str(tmp_path / "mhookd.sock")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    with pytest.raises(ValueError):
        mhook.default_path()

    # connect() with no path follows the same rule.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    serve(echo)
    with mhook.connect() as c:
        assert c.attach(1)["op"] == "attach"
    monkeypatch.setenv("MHOOK_SOCKET", str(tmp_path / "other.sock"))
    serve(lambda req: [ok(req, which="other")], name="other.sock")
    with mhook.connect() as c:
        assert c.stats()["which"] == "other"
