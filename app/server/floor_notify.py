"""The messages of the floor extensions (docs/protocol-extensions.md, floor-queue,
priority, emergency) for one :class:`~app.server.floor.FloorOutcome`.

Pure: given who is a member with which features, it says which message goes to
which session, in the order the extension fixes. The server state sends them
around its base change notification (5): :func:`emergency_notices` and
:func:`notices_before_change` before it, :func:`notices_after_change` after it.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.protocol.features import EMERGENCY, FLOOR_FEATURES, FLOOR_QUEUE
from app.protocol.ids import InterphoneId
from app.protocol.messages import (
    EmergencyAction,
    EmergencyState,
    FloorNotice,
    FloorNoticeType,
    Message,
)
from app.server.floor import EmergencyRecord, FloorOutcome, NoticeKind
from app.server.floor import FloorNotice as Notice

Features = Mapping[str, tuple[int, frozenset[str]]]
"""uid -> (session id, features granted) of the interphone's members."""


def emergency_body(interphone: InterphoneId, record: EmergencyRecord) -> EmergencyState:
    """The ``<emergency>`` element telling ``record``'s raise or cancel."""
    if record.action == "raise":
        return EmergencyState(EmergencyAction.RAISE, interphone, record.raised_by,
                              emergency_id=record.id)
    return EmergencyState(EmergencyAction.CANCEL, interphone, record.raised_by, record.by,
                          record.id)


def emergency_notices(interphone: InterphoneId, outcome: FloorOutcome,
                      members: Features) -> list[tuple[int, Message]]:
    """Step 2: the raise or cancel, to every member that negotiated ``emergency``."""
    if outcome.emergency is None:
        return []
    message = Message.notification(emergency_body(interphone, outcome.emergency))
    return [(sid, message) for sid, features in members.values() if EMERGENCY in features]


def _floor_message(interphone: InterphoneId, notice: Notice, grant: int = 0) -> Message:
    return Message.notification(FloorNotice(
        interphone, FloorNoticeType(notice.kind.value), position=notice.position,
        reason=notice.reason, by=notice.by,
        grant=grant if notice.kind is NoticeKind.GRANTED else 0))


def _addressed(interphone: InterphoneId, notices: list[Notice],
               members: Features, grant: int = 0) -> list[tuple[int, Message]]:
    out = []
    for notice in notices:
        entry = members.get(notice.uid)
        if entry is None:
            continue
        sid, features = entry
        # revoked: to a holder with any floor extension; the rest: only floor-queue
        # sessions can wait in line.
        wanted = FLOOR_FEATURES if notice.kind is NoticeKind.REVOKED else {FLOOR_QUEUE}
        if features & wanted:
            out.append((sid, _floor_message(interphone, notice, grant)))
    return out


def notices_before_change(interphone: InterphoneId, outcome: FloorOutcome,
                          members: Features, *, grant: int = 0) -> list[tuple[int, Message]]:
    """Steps 3 and 4: ``revoked`` to the old holder, ``granted`` to the head of the line
    (with ``grant``, the media-auth grant number of the new holder, when not 0)."""
    return _addressed(interphone, outcome.notices_before_change(), members, grant)


def notices_after_change(interphone: InterphoneId, outcome: FloorOutcome,
                         members: Features) -> list[tuple[int, Message]]:
    """Steps 6 and 7: ``left`` then ``queued``, in line order."""
    return _addressed(interphone, outcome.notices_after_change(), members)
