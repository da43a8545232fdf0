"""What the client's media endpoint drops, told in the log without flooding it.

A datagram the endpoint does not take (from another address than the server's media
port, malformed, failing media-auth, for an interphone not joined...) used to be only
counted (``MediaStats.rx_dropped``): a server answering from another address than the
one the client sends to, or someone spraying the client's port, left no trace a user
could find. :class:`DropLog` tells the first drop at once, then at most one line every
``TELL_EVERY_S`` with what was dropped since, by reason, and the last source. Reasons
that a working setup never produces are warnings; the others (audio still in flight
for an interphone just left, a key changing under media-auth) are told at INFO.
"""

from __future__ import annotations

import logging
from typing import Any

FOREIGN = "not from the server's media address"
MALFORMED = "malformed"
UNAUTHENTIC = "failing media-auth's checks"
NOT_JOINED = "for an interphone not joined"
OWN = "carrying our own uid"
UNASKED_ACK = "acknowledging no registration of ours"

WARN_OF = frozenset({FOREIGN, MALFORMED, OWN})
"""Reasons a correct server on a working path never causes."""

TELL_EVERY_S = 10.0


class DropLog:
    """Counts dropped datagrams by reason and logs them at most every ``TELL_EVERY_S``.

    Called from the media receive thread only (no lock: one writer)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._since: dict[str, int] = {}
        self._told_at: float | None = None

    def note(self, why: str, source: tuple[str | Any, int], now: float) -> None:
        self._since[why] = self._since.get(why, 0) + 1
        if self._told_at is not None and now - self._told_at < TELL_EVERY_S:
            return
        level = logging.WARNING if WARN_OF.intersection(self._since) else logging.INFO
        counts = ", ".join(f"{count} {reason}" for reason, count in self._since.items())
        self._logger.log(level, "dropped UDP datagram(s): %s (the last from %s:%s)",
                         counts, source[0], source[1])
        self._since.clear()
        self._told_at = now
