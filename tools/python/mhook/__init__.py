"""Python client for mhookd's socket (docs/protocol.md, "The socket: mhookd's clients").

It connects to a running `mhookd --listen`, sends requests (attach, hook, subscribe, ...)
as JSON lines and matches each reply to its request by id; events that arrive while it
waits for a reply are kept, in order, for `events()`. Standard library only, no install
step: put tools/python on sys.path and `import mhook`.

    import mhook
    with mhook.connect("/tmp/mh.sock") as c:
        c.hook(1234, "malloc")
        c.subscribe(pids=[1234], kinds=["call"])
        for ev in c.events(timeout=5):
            print(ev["func"], ev["args"])

Choices a caller should know:

- Timeouts. `connect(timeout=)` bounds connecting, the hello, each send and each wait for
  a reply (None: no bound). `read_line(timeout)` and `events(timeout)` take their own,
  None meaning wait forever; for `events` it is the idle time allowed before each event.
  Running out raises TimeoutError (the builtin); nothing read is lost, so the same call
  can simply be made again, and a reply that comes after its request timed out is dropped.
- Text. Lines are decoded as UTF-8 with errors="surrogateescape", so that a stray byte
  never stops the stream (`s.encode("utf-8", "surrogateescape")` gives its bytes back).
  Requests are encoded the same way, but mhookd accepts valid UTF-8 only: a name with
  other bytes is answered bad_request.
- `events()` yields events only, the buffered ones first; it discards any reply it reads
  (one to a `send_raw` line, say; use `read_line` to see those). It yields `bye` as the
  last event (also kept as `.bye`) and then stops, as it does at end of file.
- A reply with ok:false raises `Error`; a server that breaks the framing raises
  `ProtocolError`; a connection that ends before the reply raises ConnectionError.
- A Client is not thread-safe: use it from one thread, or one per thread.
"""

import collections
import json
import os
import socket
import time

__all__ = ["Client", "Error", "ProtocolError", "connect", "default_path", "PROTOCOL"]

PROTOCOL = 1  # the hello's "protocol" this client speaks
_CHUNK = 65536


class Error(Exception):
    """A reply with ok:false: .code (e.g. "not_found"), .message (for a person), .reply."""

    def __init__(self, reply):
        self.reply = reply
        self.code = reply.get("code")
        self.message = reply.get("error", "")
        super().__init__("%s: %s" % (self.code, self.message))


class ProtocolError(Error):
    """mhookd sent something the protocol does not allow (bad JSON, no hello, ...)."""

    def __init__(self, message):
        super().__init__({"ok": False, "code": "protocol", "error": message})


def default_path():
    """$MHOOK_SOCKET, else /run/mhook/mhookd.sock for root, else $XDG_RUNTIME_DIR/mhookd.sock."""
    if os.environ.get("MHOOK_SOCKET"):
        return os.environ["MHOOK_SOCKET"]
    if os.geteuid() == 0:
        return "/run/mhook/mhookd.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        raise ValueError("no mhookd socket: set MHOOK_SOCKET or XDG_RUNTIME_DIR, or pass a path")
    return os.path.join(runtime, "mhookd.sock")


def connect(path=None, timeout=10.0):
    """Connects to mhookd at path (None: default_path()) and reads its hello."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(os.fspath(default_path() if path is None else path))
        return Client(sock, timeout)
    except BaseException:
        sock.close()
        raise


def _deadline(timeout):
    return None if timeout is None else time.monotonic() + timeout


class Client:
    """One connection to mhookd, over a connected stream socket that it then owns."""

    def __init__(self, sock, timeout=10.0):
        self.timeout = timeout
        self.next_id = 1  # the id of the next request; ids must only grow on a connection
        self.bye = None
        self._sock = sock
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf known to hold no newline, so long lines stay linear
        self._eof = False
        self._events = collections.deque()
        hello = self._read(_deadline(timeout))
        if hello is None:
            raise ConnectionError("mhookd closed the connection before its hello")
        if hello.get("event") != "hello":
            raise ProtocolError("expected hello first, got %r" % (hello,))
        if hello.get("protocol") != PROTOCOL:
            raise ProtocolError("mhookd speaks protocol %r, this client %d"
                                % (hello.get("protocol"), PROTOCOL))
        self.hello = hello

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes the connection; mhookd then drops this client's hooks and holds."""
        if self._sock is None:
            return
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the server may have gone first
        self._sock.close()
        self._sock = None

    # -- wire --

    def send_raw(self, data):
        """Writes data as it is (for tests that send what no request method would)."""
        self._sock.settimeout(self.timeout)
        self._sock.sendall(data)

    def _read(self, deadline):
        """The next object off the socket, or None at end of file."""
        while True:
            line = self._read_line_bytes(deadline)
            if line is None:
                return None
            if line.strip():
                break
        try:
            obj = json.loads(line.decode("utf-8", "surrogateescape"))
        except ValueError as e:
            raise ProtocolError("not JSON from mhookd (%s): %r" % (e, line[:200])) from None
        if not isinstance(obj, dict):
            raise ProtocolError("not a JSON object from mhookd: %r" % (line[:200],))
        if obj.get("event") == "bye":
            self.bye = obj
        return obj

    def _read_line_bytes(self, deadline):
        while True:
            i = self._buf.find(b"\n", self._scanned)
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[:i + 1]
                self._scanned = 0
                return line
            self._scanned = len(self._buf)
            if self._eof:
                return None  # a last line with no newline is cut short, not a message
            if deadline is None:
                self._sock.settimeout(None)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no line from mhookd in time")
                self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(_CHUNK)
            except socket.timeout:
                raise TimeoutError("no line from mhookd in time") from None
            except ConnectionResetError:
                chunk = b""  # a server that closes with our request unread resets; same as EOF
            if not chunk:
                self._eof = True
            self._buf += chunk

    def read_line(self, timeout=None):
        """The next object received, reply or event (buffered events first); None at EOF.
        timeout None waits forever."""
        if self._events:
            return self._events.popleft()
        return self._read(_deadline(timeout))

    def events(self, timeout=None):
        """Yields events in the order received, buffered ones first, until bye (yielded) or
        EOF. timeout: seconds to wait for each event (None: forever), then TimeoutError."""
        while True:
            if self._events:
                ev = self._events.popleft()
            else:
                deadline = _deadline(timeout)
                while True:
                    ev = self._read(deadline)
                    if ev is None:
                        return
                    if "event" in ev:
                        break
            yield ev
            if ev.get("event") == "bye":
                return

    def request(self, op, **fields):
        """Sends {"id", "op", **fields} and returns its reply; ok:false raises Error."""
        if "id" in fields:
            raise TypeError("request() numbers requests itself; use send_raw for an id of your own")
        rid = self.next_id
        self.next_id += 1
        msg = {"id": rid, "op": op, **fields}
        self.send_raw(json.dumps(msg, ensure_ascii=False).encode("utf-8", "surrogateescape")
                      + b"\n")
        deadline = _deadline(self.timeout)
        while True:
            obj = self._read(deadline)
            if obj is None:
                why = " (%s)" % self.bye.get("reason") if self.bye else ""
                raise ConnectionError("mhookd closed the connection before replying to id %d%s"
                                      % (rid, why))
            if "event" in obj:
                self._events.append(obj)
                continue
            got = obj.get("id")
            if got == rid:
                break
            # Replies come in request order, so an earlier (or null) id is a reply to a
            # request we no longer wait for: one that timed out, or a send_raw line.
            if isinstance(got, int) and got > rid:
                raise ProtocolError("reply id %d while waiting for %d" % (got, rid))
        if obj.get("ok") is not True:
            raise Error(obj)
        return obj

    # -- the ops --

    def attach(self, pid):
        return self.request("attach", pid=pid)

    def detach(self, pid):
        return self.request("detach", pid=pid)

    def hook(self, pid, spec, strategy=None, pending=False, keep=False):
        fields = {"pid": pid, "spec": spec}
        if strategy is not None:
            fields["strategy"] = strategy
        if pending:
            fields["pending"] = True
        if keep:
            fields["keep"] = True
        return self.request("hook", **fields)

    def unhook(self, pid, spec):
        return self.request("unhook", pid=pid, spec=spec)

    def list(self):
        """The traced processes this client may see, each with its hooks."""
        return self.request("list")["targets"]

    def symbols(self, pid, glob, limit=None):
        """The matching symbols, as a list whose .truncated says the limit cut it."""
        fields = {"pid": pid, "glob": glob}
        if limit is not None:
            fields["limit"] = limit
        reply = self.request("symbols", **fields)
        out = SymbolList(reply["symbols"])
        out.truncated = bool(reply.get("truncated"))
        return out

    def subscribe(self, pids=None, funcs=None, kinds=None, summary_ms=None):
        """Replaces the subscription; each field given narrows it (None: not sent)."""
        fields = {}
        if pids is not None:
            fields["pids"] = list(pids)
        if funcs is not None:
            fields["funcs"] = list(funcs)
        if kinds is not None:
            fields["kinds"] = list(kinds)
        if summary_ms is not None:
            fields["summary_ms"] = summary_ms
        return self.request("subscribe", **fields)

    def unsubscribe(self):
        return self.request("unsubscribe")

    def stats(self):
        return self.request("stats")


class SymbolList(list):
    truncated = False
