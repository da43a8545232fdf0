"""media-auth's keys over time (pure, no sockets): who holds which voice key, its epochs,
the floor grant numbers, and what a listener already opened.

Spec: docs/protocol-extensions.md, "Extension: media-auth". The packets and the
sealing themselves are :mod:`app.protocol.media_crypto`'s.

- server: :class:`InterphoneKeys`, each live interphone's key, epoch and grant;
- client: :class:`ListenerKeys`, the keys it installed and a :class:`ReplayWindow` per
  key, to open what it hears once each.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from app.protocol.media_crypto import (
    KEY_BYTES,
    U32_MAX,
    MediaAuthError,
    MediaKey,
    SealedAudio,
    decode_b64,
    encode_b64,
)

_MAX_RETIRED = 3  # older keys a listener still opens during their grace period
REPLAY_WINDOW = 64
"""Packets of one grant may arrive this far out of order and still be accepted once."""


class InterphoneKeys:
    """Server side: each live interphone's key, its epoch, and floor grant numbers.

    Epochs and grant numbers come from two counters shared by all interphones, so
    no (key, epoch, grant, seq) can repeat within a server process: a key is
    random per epoch, an epoch is never reused, a grant number is never reused,
    and seq restarts at 0 only with a new grant. On several nodes the key comes
    from :attr:`derive` instead and the counters advance in the shared log's order
    (:mod:`app.server.cluster_keys`), so the same holds for the whole cluster.
    Rotate whenever the membership changes (join, quit, removal); :meth:`end` when
    the interphone ends.
    """

    def __init__(self, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self._random = random_bytes
        self._keys: dict[str, MediaKey] = {}
        self._grants: dict[str, int] = {}
        self._last_epoch = 0
        self._last_grant = 0
        self.derive: Callable[[str, int], bytes] | None = None
        """Several nodes: the key of (interphone id, epoch) every node derives alike
        (:mod:`app.server.cluster_keys`) instead of random bytes of this process."""

    def rotate(self, interphone_id: str) -> MediaKey:
        """A fresh key under a new epoch for ``interphone_id``; hand it to the current members."""
        if self._last_epoch >= U32_MAX:
            raise OverflowError("media key epochs exhausted: restart the server")
        self._last_epoch += 1
        derive = self.derive
        material = (derive(interphone_id, self._last_epoch) if derive is not None
                    else self._random(KEY_BYTES))
        key = MediaKey(self._last_epoch, material)
        self._keys[interphone_id] = key
        return key

    def current(self, interphone_id: str) -> MediaKey | None:
        return self._keys.get(interphone_id)

    def end(self, interphone_id: str) -> None:
        self._keys.pop(interphone_id, None)
        self._grants.pop(interphone_id, None)

    def new_grant(self, interphone_id: str) -> int:
        """The number of a new floor grant (also when the holder asks ``on`` again)."""
        if self._last_grant >= U32_MAX:
            raise OverflowError("grant numbers exhausted: restart the server")
        self._last_grant += 1
        self._grants[interphone_id] = self._last_grant
        return self._last_grant

    def release(self, interphone_id: str) -> None:
        """The floor was released or revoked: no grant is current."""
        self._grants.pop(interphone_id, None)

    def current_grant(self, interphone_id: str) -> int | None:
        return self._grants.get(interphone_id)

    def snapshot(self) -> dict[str, object]:
        """Counters, keys and grants as JSON (a cluster node that starts from a snapshot)."""
        return {"epoch": self._last_epoch, "grant": self._last_grant,
                "keys": {i: [k.epoch, encode_b64(k.key)] for i, k in self._keys.items()},
                "grants": dict(self._grants)}

    def restore(self, snapshot: dict[str, object]) -> None:
        """Continue from :meth:`snapshot` (this process has made no key yet)."""
        keys = snapshot.get("keys", {})
        grants = snapshot.get("grants", {})
        assert isinstance(keys, dict) and isinstance(grants, dict)
        self._last_epoch = int(str(snapshot.get("epoch", 0)))
        self._last_grant = int(str(snapshot.get("grant", 0)))
        self._keys = {str(i): MediaKey(int(e), decode_b64(str(k), KEY_BYTES))
                      for i, (e, k) in keys.items()}
        self._grants = {str(i): int(g) for i, g in grants.items()}

    def relay_allows(self, interphone_id: str, epoch: int, grant: int) -> bool:
        """The header check the relay makes (besides holder and registered address)."""
        key = self._keys.get(interphone_id)
        return (key is not None and key.epoch == epoch
                and self._grants.get(interphone_id) == grant)


class ReplayWindow:
    """Sliding window over sequence numbers (as IPsec/DTLS): each number accepted once."""

    __slots__ = ("_bits", "_highest", "_size")

    def __init__(self, size: int = REPLAY_WINDOW) -> None:
        self._size = size
        self._highest = -1
        self._bits = 0

    def fresh(self, number: int) -> bool:
        """Not seen and not too old (does not record it)."""
        if number > self._highest:
            return True
        offset = self._highest - number
        return offset < self._size and not (self._bits >> offset) & 1

    def record(self, number: int) -> None:
        if number > self._highest:
            shift = number - self._highest
            self._bits = ((self._bits << shift) | 1) & ((1 << self._size) - 1)
            self._highest = number
        else:
            self._bits |= 1 << (self._highest - number)


@dataclass(slots=True)
class _EpochState:
    key: MediaKey
    grant: int = -1
    window: ReplayWindow = field(default_factory=ReplayWindow)
    retired_at: float | None = None


class ListenerKeys:
    """Client side: the keys of the interphones it is in, and replay state per key.

    :meth:`install` a key from a join response or a key notification; the key it
    replaces still opens packets for ``grace`` seconds (they may have been in
    flight), then is forgotten. :meth:`open` returns the Opus frame or raises
    :class:`MediaAuthError` (unknown key, forged, modified, replayed, or an older
    grant than one already heard). At most ``max_interphones`` are tracked.
    """

    def __init__(self, *, grace: float = 2.0, max_interphones: int = 256) -> None:
        self._grace = grace
        self._max = max_interphones
        self._states: OrderedDict[str, dict[int, _EpochState]] = OrderedDict()
        self._current: dict[str, MediaKey] = {}

    def install(self, interphone_id: str, key: MediaKey, now: float) -> None:
        epochs = self._states.setdefault(interphone_id, {})
        self._states.move_to_end(interphone_id)
        previous = self._current.get(interphone_id)
        if previous is not None and previous.epoch != key.epoch:
            old = epochs.get(previous.epoch)
            if old is not None:
                old.retired_at = now
        existing = epochs.get(key.epoch)
        if existing is None or existing.key.key != key.key:
            epochs[key.epoch] = _EpochState(key)
        self._current[interphone_id] = key
        self._prune(interphone_id, now)
        while len(self._states) > self._max:
            dropped, _ = self._states.popitem(last=False)
            self._current.pop(dropped, None)

    def forget(self, interphone_id: str) -> None:
        """We left the interphone: no key of it opens anything any more."""
        self._states.pop(interphone_id, None)
        self._current.pop(interphone_id, None)

    def sending_key(self, interphone_id: str) -> MediaKey | None:
        """The key a talker seals with (the newest installed)."""
        return self._current.get(interphone_id)

    def open(self, packet: SealedAudio, now: float) -> bytes:
        return self.open_parts(packet.id, packet.epoch, packet.grant, packet.seq,
                               packet.header_bytes(), packet.nonce, packet.sealed, now)

    def open_parts(self, interphone_id: str, epoch: int, grant: int, seq: int,
                   header: bytes, nonce: bytes, sealed: bytes, now: float) -> bytes:
        """:meth:`open` of a packet given as its fields, its associated data (``header``)
        and nonce: what a receiver that sliced them out of the datagram hands over."""
        epochs = self._states.get(interphone_id)
        state = epochs.get(epoch) if epochs else None
        if state is None or (state.retired_at is not None
                             and now - state.retired_at > self._grace):
            raise MediaAuthError(f"no key for {interphone_id} epoch {epoch}")
        if grant < state.grant or (grant == state.grant and not state.window.fresh(seq)):
            raise MediaAuthError("replayed or stale packet")
        opus = state.key.open(header, nonce, sealed)
        if grant > state.grant:
            state.grant = grant
            state.window = ReplayWindow()
        state.window.record(seq)
        return opus

    def _prune(self, interphone_id: str, now: float) -> None:
        epochs = self._states[interphone_id]
        retired = sorted((s.retired_at, e) for e, s in epochs.items() if s.retired_at is not None)
        expired = [e for at, e in retired if now - at > self._grace]
        expired += [e for _, e in retired[: max(0, len(retired) - _MAX_RETIRED)]]
        for epoch in expired:
            epochs.pop(epoch, None)
