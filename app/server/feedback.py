"""The server's rules of the ``feedback`` extension, sans-IO (clock passed in).

Listeners of an interphone report what they measured of the current speaker's
audio (:class:`~app.protocol.messages.QualityReport`); the board keeps each
listener's latest report and, after every accepted one, may tell the floor
holder what its listeners lose (:class:`~app.protocol.messages.FeedbackNotice`:
how many listeners reported in the last ``WINDOW_SECONDS``, the worst loss, the
90th percentile, the worst jitter). The talker's encoder follows it
(``app/audio/fec_policy.py``). Specified in docs/protocol-extensions.md,
section "Extension: feedback".

:class:`~app.server.state.ServerState` calls :meth:`FeedbackBoard.report` for
each ``<quality>`` request and :meth:`FeedbackBoard.forget` when an interphone
ends, and :meth:`FeedbackBoard.take_due` / :meth:`FeedbackBoard.release` from its timer
for a change held back by ``MIN_GAP_SECONDS``; nothing else of the state depends on it.
On several nodes the board of the holder's node takes every listener's report: a report
for a holder on another node is checked by :meth:`FeedbackBoard.counts` where it was
received and kept by :meth:`FeedbackBoard.heard` on the holder's node
(:mod:`app.server.feedback_carrier`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from app.protocol.errors import ErrCode
from app.protocol.ids import InterphoneId
from app.protocol.messages import FeedbackNotice, Message, QualityAck, QualityReport
from app.server.outbox import Outbox, Refused, Result
from app.server.records import Interphone, Session

FEATURE = "feedback"

WINDOW_SECONDS = 3.0
"""A listener's report counts for this long (listeners report about every second)."""
RESEND_SECONDS = 1.0
"""A notice with unchanged figures is sent to the holder at most this often."""
CHANGE_PCT = 0.5
"""A change of the worst or p90 loss by at least this much is sent at once (but see
``MIN_GAP_SECONDS``)."""
MIN_GAP_SECONDS = 0.25
"""Notices sent for a change are at least this far apart: a change that comes sooner after
the previous one is sent when the gap has passed, with the figures of that time (a listener
alternating 0 % and 100 % cannot make the talker's encoder follow every report). The first
notice to a holder, and the first change after it, go at once."""
MAX_LISTENERS = 500


@dataclass(slots=True)
class _Heard:
    """One listener's latest report about one speaker."""

    speaker: str
    loss_pct: float
    jitter_ms: float
    at: float


@dataclass(slots=True)
class _Board:
    """Per interphone: each listener's latest report, and the last notice sent."""

    heard: dict[str, _Heard] = field(default_factory=dict)  # listener uid -> report
    sent_to: int = 0  # the session of the holder the last notice went to
    sent_at: float = -math.inf
    sent_worst: float = -1.0
    sent_p90: float = -1.0
    changed_at: float = -math.inf  # the last notice sent for a change (to sent_to)


def percentile_90(values: list[float]) -> float:
    """Nearest-rank 90th percentile (the value at rank ceil(0.9 n) of the sorted list)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


class FeedbackBoard:
    """Listeners' quality reports in, notices to the floor holder out."""

    def __init__(self) -> None:
        self._boards: dict[InterphoneId, _Board] = {}
        self._held: dict[InterphoneId, float] = {}  # a change came within the gap: look then

    def report(self, reporter: Session, record: Interphone | None,
               holder: Session | None, body: QualityReport, now: float) -> Result:
        """One ``<quality>`` request of ``reporter`` about ``record``.

        ``holder`` is the session of ``record``'s floor holder (None if nobody
        holds it). Refused with 400 for a session not granted ``feedback`` (as
        the base contract answers an unknown request), 403 if it is not a
        member. A report about anyone but the current holder, or by the holder
        itself, is acknowledged and ignored.
        """
        outbox = Outbox()
        if self.counts(reporter, record, body):
            assert record is not None
            self.heard(record, holder, reporter.uid, body.speaker, body.loss_pct,
                       body.jitter_ms, now, outbox)
        return Result(QualityAck(body.id), outbox)

    @staticmethod
    def counts(reporter: Session, record: Interphone | None, body: QualityReport) -> bool:
        """Whether ``reporter``'s report about ``record`` enters its holder's aggregate:
        raises :class:`Refused` as :meth:`report` answers; False for a report that is
        acknowledged and ignored (nobody holds the floor, about someone else, by the
        holder)."""
        if FEATURE not in reporter.features:
            raise Refused(ErrCode.BAD_REQUEST, "unknown request <quality>")
        if record is None or record.members.get(reporter.uid) != reporter.sid:
            raise Refused(ErrCode.FORBIDDEN, f"{reporter.uid} is not a member of {body.id}")
        return bool(record.holder) and body.speaker == record.holder \
            and reporter.uid != record.holder

    def heard(self, record: Interphone, holder: Session | None, uid: str, speaker: str,
              loss_pct: float, jitter_ms: float, now: float, outbox: Outbox) -> None:
        """Listener ``uid``'s latest report about ``speaker`` (the holder of ``record``,
        checked by :meth:`counts` on the node that received it), received at ``now``:
        kept, and the holder told if the rules say so (into ``outbox``)."""
        board = self._boards.setdefault(record.id, _Board())
        board.heard[uid] = _Heard(speaker, loss_pct, jitter_ms, now)
        self._tell(board, record, holder, now, outbox)

    def next_deadline(self) -> float | None:
        """When a change held back by ``MIN_GAP_SECONDS`` is due (None: none is)."""
        return min(self._held.values(), default=None)

    def take_due(self, now: float) -> list[InterphoneId]:
        """The interphones whose held-back change is due at ``now`` (then :meth:`release`)."""
        return [interphone for interphone, due in self._held.items() if due <= now]

    def release(self, record: Interphone, holder: Session | None, now: float,
                outbox: Outbox) -> None:
        """The gap after the last notice of ``record`` passed: tell its holder the figures
        of now if they still differ from that notice's (nothing if they came back to them,
        or if the floor went to someone else meanwhile)."""
        self._held.pop(record.id, None)
        board = self._boards.get(record.id)
        if board is not None and holder is not None and holder.sid == board.sent_to:
            self._tell(board, record, holder, now, outbox, gap_over=True)

    def _tell(self, board: _Board, record: Interphone, holder: Session | None, now: float,
              outbox: Outbox, *, gap_over: bool = False) -> None:
        if holder is None or FEATURE not in holder.features:
            return
        notice = self._aggregate(board, record, now)
        first = board.sent_to != holder.sid
        again = now - board.sent_at >= RESEND_SECONDS
        changed = (abs(notice.worst_pct - board.sent_worst) >= CHANGE_PCT
                   or abs(notice.p90_pct - board.sent_p90) >= CHANGE_PCT)
        if not (first or again or changed):
            return
        if not (first or again or gap_over) and now - board.changed_at < MIN_GAP_SECONDS:
            self._held.setdefault(record.id, board.changed_at + MIN_GAP_SECONDS)
            return
        self._held.pop(record.id, None)
        if first:
            board.changed_at = -math.inf
        elif changed:
            board.changed_at = now
        board.sent_to, board.sent_at = holder.sid, now
        board.sent_worst, board.sent_p90 = notice.worst_pct, notice.p90_pct
        outbox.send(holder.sid, Message.notification(notice))

    def aggregate(self, record: Interphone, now: float) -> FeedbackNotice:
        """What the holder of ``record`` would be told now (listeners 0: no recent report)."""
        board = self._boards.get(record.id)
        if board is None:
            return FeedbackNotice(record.id, 0, 0.0, 0.0, 0.0)
        return self._aggregate(board, record, now)

    def forget(self, interphone: InterphoneId) -> None:
        """The interphone ended."""
        self._boards.pop(interphone, None)
        self._held.pop(interphone, None)

    @staticmethod
    def _aggregate(board: _Board, record: Interphone, now: float) -> FeedbackNotice:
        # Forget reports that are too old, about someone else, or from ex-members.
        for uid in [uid for uid, heard in board.heard.items()
                    if now - heard.at > WINDOW_SECONDS or heard.speaker != record.holder
                    or uid not in record.members]:
            del board.heard[uid]
        while len(board.heard) > MAX_LISTENERS:  # members are bounded; belt and braces
            board.heard.pop(next(iter(board.heard)))
        losses = [heard.loss_pct for heard in board.heard.values()]
        return FeedbackNotice(
            record.id,
            listeners=len(losses),
            worst_pct=max(losses, default=0.0),
            p90_pct=percentile_90(losses),
            jitter_ms=max((heard.jitter_ms for heard in board.heard.values()), default=0.0),
        )
