"""A raw, independent client for the Interphone wire contract (the shared PROTOCOL.md contract).

Written only from the contract, for the black-box conformance suite: plain sockets,
hand-built XML, our own 4-byte big-endian framing, our own lxml parse, our own UDP
packets (struct + zlib.crc32). It imports nothing from ``app``.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lxml import etree

HOST = "127.0.0.1"
MAX_FRAME = 65536
MAX_DATAGRAM = 1400
MAX_AUDIOFRAME = 1275
TYPE_AUDIO = 1
TYPE_RECVBEGIN = 2

# Never resolve entities, never load DTDs, never touch the network.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
    huge_tree=False, remove_blank_text=False,
)


# --------------------------------------------------------------------------- signaling


def frame(payload: bytes | str) -> bytes:
    """One signaling frame: u32 big-endian length, then the bytes."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return struct.pack(">I", len(payload)) + payload


def xq(value: str) -> str:
    """Escape a value for a single- or double-quoted XML attribute."""
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))


def envelope(module: str, child: str, seq: str | None, mtype: str = "request",
             quote: str = "'") -> str:
    q = quote
    seq_attr = "" if seq is None else f" seq={q}{xq(seq)}{q}"
    return f"<message type={q}{mtype}{q}{seq_attr} module={q}{module}{q}>{child}</message>"


@dataclass
class Msg:
    """One received frame, parsed."""

    raw: bytes
    root: etree._Element

    @property
    def type(self) -> str | None:
        return self.root.get("type")

    @property
    def seq(self) -> str | None:
        return self.root.get("seq")

    @property
    def module(self) -> str | None:
        return self.root.get("module")

    @property
    def children(self) -> list[etree._Element]:
        return [c for c in self.root if isinstance(c.tag, str)]

    @property
    def child(self) -> etree._Element:
        kids = self.children
        assert len(kids) == 1, f"envelope must have exactly one child: {self.raw!r}"
        return kids[0]

    @property
    def errcode(self) -> str | None:
        """None or '' on success, the decimal code on failure."""
        return self.child.get("errcode")

    @property
    def ok(self) -> bool:
        return not self.errcode

    def __repr__(self) -> str:  # readable assertion messages
        return f"Msg({self.raw.decode('utf-8', 'replace')})"


def parse(raw: bytes) -> Msg:
    root = etree.fromstring(raw, _PARSER)
    assert root.tag == "message", f"root must be <message>: {raw!r}"
    return Msg(raw, root)


def members_of(el: etree._Element) -> list[str]:
    return [m.get("id") for m in el if isinstance(m.tag, str) and m.tag == "member"]


class Closed(Exception):
    pass


class Conn:
    """One TCP signaling connection with a reader thread and an ordered inbox."""

    def __init__(self, port: int, host: str = HOST, timeout: float = 5.0) -> None:
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.uid: str | None = None
        self.login_msg: Msg | None = None
        self.closed = False
        self.close_time: float | None = None
        self._cv = threading.Condition()
        self._inbox: list[Msg] = []
        self._seq = itertools.count(1)
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._ka: threading.Thread | None = None
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # ---- reading
    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed
            buf += chunk
        return bytes(buf)

    def _read_loop(self) -> None:
        try:
            while True:
                (n,) = struct.unpack(">I", self._recv_exact(4))
                assert n <= MAX_FRAME, f"server sent an oversized frame ({n})"
                msg = parse(self._recv_exact(n))
                if msg.type == "response" and (msg.seq or "").startswith("ka~"):
                    continue  # our own keepalive pings
                with self._cv:
                    self._inbox.append(msg)
                    self._cv.notify_all()
        except (Closed, OSError, AssertionError, etree.XMLSyntaxError, struct.error):
            pass
        finally:
            with self._cv:
                self.closed = True
                self.close_time = time.monotonic()
                self._cv.notify_all()

    def wait_for(self, pred: Callable[[Msg], bool], timeout: float | None = None) -> Msg | None:
        """Pop and return the first inbox message matching pred (None on timeout/close)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cv:
            while True:
                for i, m in enumerate(self._inbox):
                    if pred(m):
                        return self._inbox.pop(i)
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return None
                self._cv.wait(left)

    def response(self, seq: str, timeout: float | None = None) -> Msg:
        m = self.wait_for(lambda m: m.type == "response" and m.seq == seq, timeout)
        assert m is not None, f"no response to seq={seq!r} (closed={self.closed})"
        return m

    def notification(self, pred: Callable[[Msg], bool] | None = None,
                     timeout: float | None = None) -> Msg | None:
        return self.wait_for(
            lambda m: m.type == "notification" and (pred is None or pred(m)), timeout)

    def notifications(self, pred: Callable[[Msg], bool] | None = None) -> list[Msg]:
        """Pop every notification already received (matching pred), in order."""
        with self._cv:
            out = [m for m in self._inbox
                   if m.type == "notification" and (pred is None or pred(m))]
            self._inbox = [m for m in self._inbox if m not in out]
        return out

    def inbox(self) -> list[Msg]:
        with self._cv:
            return list(self._inbox)

    def wait_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cv:
            while not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
            return True

    # ---- writing
    def send_raw(self, data: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(data)

    def send(self, payload: bytes | str) -> None:
        self.send_raw(frame(payload))

    def next_seq(self) -> str:
        return str(next(self._seq))

    def request(self, module: str, child: str, seq: str | None = None,
                quote: str = "'") -> str:
        seq = self.next_seq() if seq is None else seq
        self.send(envelope(module, child, seq, quote=quote))
        return seq

    def call(self, module: str, child: str, seq: str | None = None,
             timeout: float | None = None) -> Msg:
        seq = self.request(module, child, seq)
        return self.response(seq, timeout)

    # ---- MID_SESSION
    def login(self, uid: str, token: str) -> Msg:
        m = self.call("MID_SESSION",
                      f"<login uid='{xq(uid)}' token='{xq(token)}' version='1'/>")
        if m.ok:
            self.uid = uid
            self.login_msg = m
        return m

    def ping(self, timeout: float | None = None) -> Msg:
        return self.call("MID_SESSION", "<ping/>", timeout=timeout)

    def start_keepalive(self, interval: float = 1.0) -> None:
        def run() -> None:
            n = 0
            while not self._stop.wait(interval):
                n += 1
                try:
                    self.send(envelope("MID_SESSION", "<ping/>", f"ka~{n}"))
                except OSError:
                    return

        self._ka = threading.Thread(target=run, daemon=True)
        self._ka.start()

    # ---- MID_INTERPHONE
    def sync(self, ids: Iterable[str]) -> Msg:
        kids = "".join(f"<interphone id='{xq(i)}'/>" for i in ids)
        return self.call("MID_INTERPHONE", f"<interphones type='sync'>{kids}</interphones>")

    def members(self, iid: str, seq: str | None = None) -> Msg:
        return self.call("MID_INTERPHONE", f"<interphone type='sync' id='{xq(iid)}'/>", seq)

    def join(self, iid: str, member: str | bool | None = True) -> Msg:
        who = self.uid if member is True else member
        inner = f"<member id='{xq(who)}'/>" if who else ""
        return self.call("MID_INTERPHONE",
                         f"<interphone type='add' id='{xq(iid)}'>{inner}</interphone>")

    def quit(self, iid: str, member: str | bool | None = True) -> Msg:
        who = self.uid if member is True else member
        inner = f"<member id='{xq(who)}'/>" if who else ""
        return self.call("MID_INTERPHONE",
                         f"<interphone type='quit' id='{xq(iid)}'>{inner}</interphone>")

    def speak(self, on: bool | str, iid: str) -> Msg:
        t = on if isinstance(on, str) else ("on" if on else "off")
        return self.call("MID_INTERPHONE", f"<speak type='{t}' id='{xq(iid)}'/>")

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._reader.join(2)


# --------------------------------------------------------------------------- media


def pstr(s: str | bytes) -> bytes:
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def _seal(body: bytes, crc: int | None) -> bytes:
    """Prefix the crc32 of body (crc=None: computed; otherwise the given value)."""
    value = zlib.crc32(body) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", value) + body


def recvbegin(iid: str, uid: str, crc: int | None = None, ptype: int = TYPE_RECVBEGIN) -> bytes:
    return _seal(struct.pack(">I", ptype) + pstr(iid) + pstr(uid), crc)


def audio(iid: str, uid: str, seq: int, payload: bytes, crc: int | None = None,
          trailing: bytes = b"", ptype: int = TYPE_AUDIO) -> bytes:
    body = struct.pack(">I", ptype) + pstr(iid) + pstr(uid) + struct.pack(">I", seq)
    return _seal(body + pstr(payload) + trailing, crc)


def parse_packet(data: bytes) -> dict | None:
    """Strict parse of one datagram; None when malformed (any trailing byte included)."""
    try:
        off = 0

        def u32() -> int:
            nonlocal off
            (v,) = struct.unpack_from(">I", data, off)
            off += 4
            return v

        def blob() -> bytes:
            nonlocal off
            n = u32()
            if off + n > len(data):
                raise ValueError("truncated")
            b = data[off:off + n]
            off += n
            return b

        crc = u32()
        ptype = u32()
        out = {"crc": crc, "type": ptype,
               "crc_ok": crc == 0 or crc == (zlib.crc32(data[4:]) & 0xFFFFFFFF)}
        out["id"] = blob().decode("utf-8")
        out["uid"] = blob().decode("utf-8")
        if ptype == TYPE_AUDIO:
            out["seq"] = u32()
            out["frame"] = blob()
        if off != len(data):
            return None
        return out
    except (struct.error, ValueError, UnicodeDecodeError):
        return None


class Udp:
    """A UDP endpoint bound to ip (127.0.0.2 fakes another host on Linux loopback)."""

    def __init__(self, server_port: int, ip: str = HOST) -> None:
        self.server = (HOST, server_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.addr = self.sock.getsockname()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def recv_from(self, timeout: float = 1.0) -> tuple[bytes, tuple] | tuple[None, None]:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recvfrom(65535)
        except TimeoutError:
            return None, None

    def recv(self, timeout: float = 1.0) -> bytes | None:
        return self.recv_from(timeout)[0]

    def drain(self) -> list[bytes]:
        out = []
        while (d := self.recv(0.05)) is not None:
            out.append(d)
        return out

    def register(self, iid: str, uid: str, tries: int = 3, wait: float = 0.7) -> dict | None:
        """Send recvbegin until acknowledged; the parsed ack, or None."""
        for _ in range(tries):
            self.send(recvbegin(iid, uid))
            deadline = time.monotonic() + wait
            while (left := deadline - time.monotonic()) > 0:
                data, src = self.recv_from(left)
                if data is None:
                    break
                p = parse_packet(data)
                if p and p["type"] == TYPE_RECVBEGIN:
                    p["src"] = src
                    return p
        return None

    def close(self) -> None:
        self.sock.close()
