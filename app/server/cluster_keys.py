"""media-auth voice keys on several nodes: one key per (interphone, epoch) for the cluster.

Every node applies the shared log in one order, so its epochs and grant numbers
(:class:`~app.protocol.media_keys.InterphoneKeys` counters, advanced only while an
entry is applied) are the same on every node. What each node cannot draw on its own is
the key: it is derived instead, from a **cluster secret** stored once in the store
(``SET NX``, so the first node decides it and every other reads it) with HKDF-SHA256
over the interphone id, the epoch and the id of the log entry whose application rotated
it. Every node derives the same key; the log entry id, unique for the life of the log,
keeps a key from ever coming back even if the counters started again under the same
secret (a log lost while the secret survived). Redis is trusted infrastructure: whoever
can read it can derive every voice key (docs/security.md).
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.protocol.media_crypto import KEY_BYTES, SECRET_BYTES

INFO = b"interphone media-auth cluster key v1\x00"
_EPOCH = struct.Struct(">I")


def derive_key(secret: bytes, log_id: str, interphone_id: str, epoch: int) -> bytes:
    """The voice key of ``interphone_id`` at ``epoch``, rotated by log entry ``log_id``."""
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"a cluster secret is {SECRET_BYTES} bytes")
    info = (INFO + log_id.encode("ascii") + b"\x00" + interphone_id.encode("utf-8") + b"\x00"
            + _EPOCH.pack(epoch))
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(secret)


class ClusterKeySource:
    """The ``derive`` of a node's :class:`~app.protocol.media_keys.InterphoneKeys`:
    :attr:`entry` is the log entry being applied (set by the replica before each one)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != SECRET_BYTES:
            raise ValueError(f"a cluster secret is {SECRET_BYTES} bytes")
        self._secret = secret
        self.entry = ""

    def __call__(self, interphone_id: str, epoch: int) -> bytes:
        return derive_key(self._secret, self.entry, interphone_id, epoch)
