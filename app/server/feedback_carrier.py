"""Extension ``feedback`` on several nodes: listeners' reports carried to the holder's node.

A ``<quality>`` report is received by the listener's own node, which checks it as on one
node (:meth:`~app.server.feedback.FeedbackBoard.counts`: the session was granted
``feedback``, is the member's session, the report is about the holder and not by it). If
the holder's session is on another node, the report goes there: that node keeps it as
if its own client had sent it (:meth:`ServerState.quality_carried`, which checks again
against its replica that the session is still the member's and that the floor holder is
still its own session), and applies the same aggregate and notice rules to every
listener of the interphone, whichever node it is on.

Sans-IO: :class:`FeedbackCarrier` collects, per destination node, the latest report of
each listener's session until the driver (:mod:`app.server.feedback_link`) takes them
(:meth:`FeedbackCarrier.take`), one message per node, and publishes each on that node's
channel; :func:`decode` reads such a message back. Only the reporter's node writes the
uid and session id of a carried report: a client names neither (they are its
authenticated session's), so it cannot report for anyone else.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from app.protocol.ids import InterphoneId

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.1
"""A node publishes the reports for one other node at most this often (the first after a
quiet spell at once): the delay the carrier adds to a notice is at most this, plus two
hops through Redis."""
MAX_PENDING = 2000
"""Reports waiting for one node at most (one per listener's session and interphone,
replaced by its next; members of an interphone are bounded well below this)."""
MAX_LOSS = 100.0
MAX_JITTER = 100_000.0


@dataclass(frozen=True, slots=True)
class CarriedReport:
    """One listener's report, as its node passes it on to the holder's node."""

    sid: int  # the listener's session (its node's number in the high bits)
    uid: str
    interphone: InterphoneId
    speaker: str
    loss_pct: float
    jitter_ms: float

    def to_json(self) -> list[object]:
        return [self.sid, self.uid, str(self.interphone), self.speaker, self.loss_pct,
                self.jitter_ms]

    @classmethod
    def from_json(cls, item: object) -> CarriedReport:
        """Raises ValueError (or TypeError) for anything but what :meth:`to_json` makes."""
        if not isinstance(item, list) or len(item) != 6:
            raise ValueError(f"not a carried report: {item!r}")
        sid, uid, interphone, speaker, loss, jitter = item
        if not (isinstance(sid, int) and isinstance(uid, str) and isinstance(speaker, str)
                and isinstance(interphone, str)):
            raise ValueError(f"not a carried report: {item!r}")
        loss_pct, jitter_ms = float(loss), float(jitter)
        if not (0.0 <= loss_pct <= MAX_LOSS and 0.0 <= jitter_ms <= MAX_JITTER
                and math.isfinite(loss_pct) and math.isfinite(jitter_ms)):
            raise ValueError(f"figures out of range: {item!r}")
        return cls(sid, uid, InterphoneId.parse(interphone), speaker, loss_pct, jitter_ms)


def _nothing() -> None:
    pass


class FeedbackCarrier:
    """This node's reports for holders on other nodes, until the driver publishes them."""

    def __init__(self) -> None:
        self._pending: dict[int, dict[tuple[int, str], CarriedReport]] = {}
        self.wake: Callable[[], None] = _nothing
        """Called whenever a report is added (the driver's publisher)."""
        self.dropped = 0
        """Reports dropped because :data:`MAX_PENDING` were waiting for their node."""

    def add(self, node: int, report: CarriedReport) -> None:
        """``report`` goes to ``node`` (its holder's), replacing the previous one of the same
        session about the same interphone if that one is still waiting."""
        waiting = self._pending.setdefault(node, {})
        key = (report.sid, str(report.interphone))
        if key not in waiting and len(waiting) >= MAX_PENDING:
            self.dropped += 1
            return
        waiting[key] = report
        self.wake()

    def take(self) -> dict[int, str]:
        """The waiting reports, one message per destination node (then none wait)."""
        pending, self._pending = self._pending, {}
        return {node: encode(list(reports.values())) for node, reports in pending.items()
                if reports}


def encode(reports: list[CarriedReport]) -> str:
    return json.dumps([report.to_json() for report in reports], separators=(",", ":"))


def decode(text: str | bytes) -> list[CarriedReport]:
    """The reports of one message (those that are malformed are left out, and logged)."""
    try:
        items = json.loads(text)
    except ValueError:
        log.warning("a feedback message from another node is not JSON: %.80r", text)
        return []
    if not isinstance(items, list):
        log.warning("a feedback message from another node is not a list: %.80r", text)
        return []
    reports = []
    for item in items:
        try:
            reports.append(CarriedReport.from_json(item))
        except (ValueError, TypeError) as exc:
            log.warning("a feedback report from another node left out: %s", exc)
    return reports
