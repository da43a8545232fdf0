"""Extension feedback on :class:`~app.client.client.InterphoneClient`
(docs/protocol-extensions.md): the listener's ``report_quality``, the holder's
``on_feedback``.

A mixin over :class:`~app.client.client_core.ClientCore`, whose attributes it uses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from app.client.client_core import ClientCore
from app.client.connection import SignalingConnection
from app.client.errors import ClientError
from app.client.events import FloorState
from app.protocol.ids import InterphoneId, as_interphone_id
from app.protocol.messages import FeedbackNotice, QualityReport

logger = logging.getLogger(__name__)

FEEDBACK = "feedback"
"""The loss-feedback extension (docs/protocol-extensions.md): ask for it with
``features=(FEEDBACK,)``; then :meth:`InterphoneClient.report_quality` and
:attr:`InterphoneClient.on_feedback` work."""

FeedbackCallback = Callable[[FeedbackNotice], None]


class ClientFeedback(ClientCore):
    """Quality reports sent (listener) and feedback notices received (floor holder)."""

    on_feedback: FeedbackCallback | None
    last_feedback: FeedbackNotice | None
    _report_tasks: dict[InterphoneId, asyncio.Task[Any]]

    @property
    def feedback_enabled(self) -> bool:
        """True when the current connection was granted the ``feedback`` extension."""
        return FEEDBACK in self.features

    def report_quality(self, speaker: str, loss_pct: float, *, jitter_ms: float = 0.0,
                       late: int = 0, concealed: int = 0, recovered: int = 0,
                       packets: int = 0, interphone: InterphoneId | str | None = None
                       ) -> bool:
        """Tell the server what we measured of ``speaker``'s audio in ``interphone``
        (default: the talk target); listener side.

        Fire and forget: returns False (nothing sent) without the ``feedback``
        extension, when not in that interphone, when ``speaker`` is ourselves, or
        while the previous report about that interphone is unanswered (reports are
        not queued up).
        """
        target = self.model.joined if interphone is None else as_interphone_id(interphone)
        conn = self._conn
        if (target is None or not self.model.is_joined(target) or conn is None or conn.closed
                or not self.feedback_enabled or speaker == self.uid):
            return False
        pending = self._report_tasks.get(target)
        if pending is not None and not pending.done():
            return False
        report = QualityReport(target, speaker, max(0.0, min(100.0, loss_pct)),
                               max(0.0, jitter_ms), late, concealed, recovered, packets)
        task = self._tasks.spawn(self._send_report(conn, report), "interphone-quality-report")
        if task is None:
            return False
        self._report_tasks[target] = task
        task.add_done_callback(lambda _: self._report_tasks.pop(target, None)
                               if self._report_tasks.get(target) is task else None)
        return True

    async def _send_report(self, conn: SignalingConnection, report: QualityReport) -> None:
        try:
            await conn.request(report)
        except ClientError as exc:
            logger.debug("quality report not accepted: %s", exc)

    def _on_feedback(self, notice: FeedbackNotice) -> None:
        if notice.id != self.model.joined or self.model.floor is not FloorState.TALKING:
            return
        self.last_feedback = notice
        callback = self.on_feedback
        if callback is not None:
            callback(notice)
