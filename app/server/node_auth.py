"""Authentication of the audio one node's relay forwards to another's (several nodes).

A node forwards a speaker's datagram (an audiopacket, PROTOCOL.md 5, or media-auth's
sealed audio) unchanged to the relay of every other node with listeners. What it sends
there is that datagram with a trailer appended::

    datagram | "IPF1" | node: u32 | counter: u64 | tag: 16 bytes

``node`` is the sender's node number (``node-seq``, unique for the life of the store),
``counter`` counts the datagrams that node forwarded (from 1, one per datagram, the
same for all its peers) and ``tag`` is keyed BLAKE2s with a 16-byte output (RFC 7693
keyed mode, a MAC with a 256-bit key) over every byte before it (datagram, magic, node,
counter) under the cluster's forwarding key: a forgery succeeds with probability 2^-128
per try, as with HMAC-SHA256 truncated to 16 bytes, for one pass of the hash where HMAC
makes two and rekeys on every call (half the cost per datagram on the relay's media
thread, measured on the 2-core development machine: about 2.2 us against 4.8 us for
``hmac.digest`` on a 166-byte datagram). The receiving relay sends its own listeners
the datagram without the trailer: a client never sees it.

A datagram is taken for a forwarded one by its shape alone, never by its source
address: its own layout (the lengths of its fields) ends exactly :data:`TRAILER` bytes
before its end, where the magic follows. A client's datagram whose layout ends at its
end (every valid one) is never one; anything of that shape is a forwarded datagram,
and is served only if its tag verifies, its node is one this node may hear from and
its counter was not seen before nor is :data:`WINDOW` or more behind that node's
highest (:meth:`NodeAuth.open`). Each node publishes its last counter in the store's
node list at every heartbeat, and every node reads that list at start and at every
heartbeat (:meth:`NodeAuth.learn`): a node refuses another's counters up to the one it
read at start (before it hears from it), and from then on up to the one it read at its
previous reading (published a heartbeat period or more before, so a datagram that old
still on its way would come too late to be played anyway). What a node forwarded more
than about two heartbeat periods ago is therefore never served by another node,
whether that node started since, has not heard from it yet, or last heard from it
long ago.

A datagram that authenticates but comes from a node this node does not know yet (a
lower number than one it knows: started at about the same time, whose entry in the
node list was not there yet when this node read it) is held (at most :data:`HELD` per
node) while the store looks that node's entry up (:attr:`NodeAuth.look_up`, at most
once per :data:`ASK_EVERY` seconds per node and :data:`ASKS` look-ups per
:data:`ASK_EVERY` in all, so replayed datagrams cannot make it hammer the store):
found, the node is learned as from the list (its published counter refuses what it
sent before) and the held datagrams are judged again (:meth:`NodeAuth.take_held`);
not found, they are refused. A datagram whose tag does not verify never causes one.

The key: derived (HKDF-SHA256) from the cluster secret every node reads from the store
at start (``media-secret``, ``SET NX`` by the first node), so a cluster needs no
configuration; an operator key (``INTERPHONE_CLUSTER_KEY``) is mixed in when set, so
that reading the store no longer suffices to forge. Whoever can write the store
controls the cluster anyway (the shared log).
"""

from __future__ import annotations

import hmac
import itertools
import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from hashlib import blake2s

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

MAGIC = b"IPF1"
_FIELDS = struct.Struct(">4sIQ")  # magic, node, counter
TAG_SIZE = 16
TRAILER = _FIELDS.size + TAG_SIZE
"""Bytes a forwarded datagram carries after the client's datagram (32)."""
WINDOW = 1024
"""Counters a receiver remembers below a node's highest: a forwarded datagram
overtaken by more than this many of its node's later ones is dropped as too old."""
KEY_BYTES = 32
INFO = b"interphone node-forward key v1"
LOG_EVERY = 10.0
"""Seconds between two log lines about refused forwarded datagrams."""
ASK_EVERY = 1.0
"""Seconds between two look-ups of one unknown node's entry (and the period over which
:data:`ASKS` counts)."""
ASKS = 4
"""Look-ups of unknown nodes at most per :data:`ASK_EVERY`, all nodes together."""
HELD = 32
"""Datagrams held per unknown node while its entry is looked up (more are refused)."""
_AUDIO, _SEALED = 1, 18
_AFTER_UID = {_AUDIO: 4, _SEALED: 12}  # seq; epoch, grant, seq
_U32 = struct.Struct(">I")
_MASK = (1 << WINDOW) - 1


def forward_key(cluster_secret: bytes, operator_key: bytes = b"") -> bytes:
    """The key of forwarded datagrams: from the store's random cluster secret, with the
    operator's key as input keying material when there is one (the secret then salts it:
    a store that lost its data, with a new secret, gives a new key too)."""
    if operator_key:
        return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=cluster_secret,
                    info=INFO).derive(operator_key)
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=INFO).derive(cluster_secret)


def inner_length(data: bytes | bytearray | memoryview, size: int) -> int:
    """The length of the datagram a forwarded one carries (see the module), or 0 when
    ``data[:size]`` does not have a forwarded datagram's shape."""
    if size < 16 + TRAILER:
        return 0
    try:
        (kind,) = _U32.unpack_from(data, 4)
        after = _AFTER_UID.get(kind)
        if after is None:
            return 0
        (id_length,) = _U32.unpack_from(data, 8)
        uid_at = 12 + id_length
        (uid_length,) = _U32.unpack_from(data, uid_at)
        length_at = uid_at + 4 + uid_length + after
        (length,) = _U32.unpack_from(data, length_at)
    except struct.error:
        return 0
    inner = length_at + 4 + length
    if inner + TRAILER != size or data[inner:inner + 4] != MAGIC:
        return 0
    return inner


class NodeAuth:
    """One node's sealing of the datagrams it forwards and opening of those it receives.

    :meth:`seal_into` and :meth:`open` are called by the media thread and by the event
    loop's thread; the counter is an :func:`itertools.count` (atomic) and the replay
    windows are changed under a lock.
    """

    def __init__(self, key: bytes, node: int) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a forwarding key is {KEY_BYTES} bytes")
        self._key = key
        self.node = node
        self._counter = itertools.count(1)
        self.sent = 0
        """The last counter used (published in the store's node list at every heartbeat:
        the other nodes refuse this node's counters up to it, :meth:`learn`)."""
        self._lock = threading.Lock()
        self._windows: dict[int, list[int]] = {}
        """Node -> [its highest counter seen, a bitmap of the WINDOW counters below it
        (bit n: highest - n seen)]."""
        self.alive: set[int] = set()
        """Other nodes this node knows (their relays: the log, snapshot, node list)."""
        self.down: set[int] = set()
        """Nodes given up (their ``down`` event): never heard from again."""
        self.highest = node
        """The highest node number known: a higher one started since (not known yet)."""
        self.refused = 0
        """Datagrams of a forwarded datagram's shape refused (tag, node or counter)."""
        self._logged_at = float("-inf")
        self._unlogged = 0
        self.look_up: Callable[[int], None] | None = None
        """Asks the store for an unknown node's entry (any thread; the answer comes back
        as :meth:`learn`, then :meth:`take_held`). None: such datagrams are refused."""
        self._held: dict[int, list[tuple[bytes, object]]] = {}
        """Node being looked up -> its authenticated datagrams held meanwhile, with their
        sources."""
        self._asked: dict[int, float] = {}
        """Node -> when it was last looked up (:func:`time.monotonic`)."""
        self._asks: deque[float] = deque(maxlen=ASKS)
        self.relay_names: dict[object, str] = {}
        """Another node's relay address -> how the log names it (``node 3 (nodeB)``), so a
        refusal from there says which node it came from."""

    # ---- the nodes this node may hear from ----------------------------------------------------

    def learn(self, node: int, sent: int = 0, floor: int = 0) -> None:
        """``node`` is another live node (its relay became known); ``sent``, the counter
        it last published in the store's node list (0: not read from there).

        If none of its datagrams was heard here yet, those up to ``sent`` are refused
        (sent before this node knew it, they can only be replays). ``floor``: a counter
        it published at least a heartbeat period before (the store's previous reading):
        those up to it are refused whatever was heard (a datagram that old still on its
        way would come too late to be played), so a node that has not heard from another
        for a while does not serve what that one forwarded to other nodes meanwhile."""
        if node == self.node or node in self.down:
            return
        with self._lock:
            self.alive.add(node)
            self.highest = max(self.highest, node)
            window = self._windows.get(node)
            if window is None:
                if max(sent, floor) > 0:
                    self._windows[node] = [max(sent, floor), _MASK]
                return
            top, seen = window
            if floor > top:
                window[0], window[1] = floor, _MASK  # everything up to the new top: seen
            elif floor > 0 and top - floor < WINDOW:
                window[1] = seen | (_MASK & ~((1 << (top - floor)) - 1))

    def forget(self, node: int) -> None:
        """``node`` is down: its datagrams are refused from now on (numbers never return)."""
        with self._lock:
            self.alive.discard(node)
            self.down.add(node)
            self.highest = max(self.highest, node)
            self._windows.pop(node, None)

    def take_held(self, node: int) -> list[tuple[bytes, object]]:
        """The look-up of ``node`` is over (learned or not): the datagrams held meanwhile,
        with their sources, to be judged again (:meth:`open`)."""
        with self._lock:
            return self._held.pop(node, [])

    # ---- sending ------------------------------------------------------------------------------

    def seal_into(self, view: memoryview, size: int) -> int:
        """Append the trailer to the datagram ``view[:size]`` in place (a writable buffer
        with :data:`TRAILER` bytes more); the forwarded datagram's length."""
        mac_end = size + _FIELDS.size
        self.sent = counter = next(self._counter)
        _FIELDS.pack_into(view, size, MAGIC, self.node, counter)
        view[mac_end:mac_end + TAG_SIZE] = blake2s(view[:mac_end], digest_size=TAG_SIZE,
                                                   key=self._key).digest()
        return mac_end + TAG_SIZE

    def seal(self, data: bytes) -> bytes:
        """``data`` as forwarded (a copy; the event loop's rarer sends)."""
        buffer = bytearray(len(data) + TRAILER)
        buffer[:len(data)] = data
        with memoryview(buffer) as view:
            self.seal_into(view, len(data))
        return bytes(buffer)

    # ---- receiving ----------------------------------------------------------------------------

    def open(self, data: bytes | bytearray | memoryview, size: int,
             source: object = None) -> bool | None:
        """Whether the forwarded datagram ``data[:size]`` (its shape checked by
        :func:`inner_length`) is to be served: its tag verifies, its node may be heard
        from and its counter is new (then it is remembered). None: it authenticates but
        its node is not known yet; a copy is held, with ``source``, while the store looks
        that node up (:attr:`look_up`, then :meth:`take_held`)."""
        mac_end = size - TAG_SIZE
        view = data if isinstance(data, memoryview) else memoryview(data)
        tag = blake2s(view[:mac_end], digest_size=TAG_SIZE, key=self._key).digest()
        if not hmac.compare_digest(tag, view[mac_end:size]):
            return False
        _, node, counter = _FIELDS.unpack_from(data, size - TRAILER)
        with self._lock:
            if node not in self.alive and (node <= self.highest or node in self.down):
                # this node itself, a node down, or one older than known ones
                if node == self.node or node in self.down or self.look_up is None:
                    return False
                return self._hold(node, view, size, source)
            window = self._windows.get(node)
            if window is None:
                self._windows[node] = [counter, 1]
                return True
            top, seen = window
            if counter > top:
                shift = counter - top
                window[0] = counter
                window[1] = ((seen << shift) | 1) & _MASK if shift < WINDOW else 1
                return True
            behind = top - counter
            if behind >= WINDOW or (seen >> behind) & 1:
                return False
            window[1] = seen | (1 << behind)
            return True

    def _hold(self, node: int, view: memoryview, size: int, source: object) -> bool | None:
        """An authenticated datagram of ``node``, not known here (under the lock): held
        while its look-up runs, or one asked for if the limits allow it (then None);
        False when neither (refused)."""
        held = self._held.get(node)
        if held is None:
            now = time.monotonic()
            asks = self._asks
            if (now - self._asked.get(node, float("-inf")) < ASK_EVERY
                    or (len(asks) == ASKS and now - asks[0] < ASK_EVERY)):
                return False
            if len(self._asked) >= 16 * ASKS:
                self._asked = {n: t for n, t in self._asked.items() if now - t < ASK_EVERY}
            self._asked[node] = now
            asks.append(now)
            held = self._held[node] = []
            look_up = self.look_up
            assert look_up is not None
            look_up(node)  # (only schedules it: never calls back into this lock)
        if len(held) >= HELD:
            return False
        held.append((bytes(view[:size]), source))
        return None

    def refuse(self, source: object) -> None:
        """Count a refused forwarded datagram from ``source``; a warning at most every
        :data:`LOG_EVERY` seconds says how many."""
        self.refused += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY:
            name = self.relay_names.get(source[:2] if isinstance(source, tuple) else source)
            if name is not None:  # most likely a node keyed otherwise: the operator's to fix
                log.warning("dropped %d forwarded datagram(s) that failed node authentication, "
                            "the last from %s, the relay of %s: that node was most likely "
                            "started with another INTERPHONE_CLUSTER_KEY than this one (or "
                            "none); give every node the same (else spoofed, or replayed)",
                            self._unlogged, source, name)
            else:
                log.warning("dropped %d forwarded datagram(s) that failed node authentication "
                            "(bad tag: a node with another INTERPHONE_CLUSTER_KEY, or spoofed; "
                            "unknown or departed node; or replayed), the last from %s",
                            self._unlogged, source)
            self._logged_at, self._unlogged = now, 0
