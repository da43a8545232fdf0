"""Who spoke last in an interphone, told the way the replay list tells a transmission.

The panel's "Last spoke" line and the replay list name the same transmission the same
way: the wall-clock time it **started** and its length, "Alice at 14:02:19 (0:12)"
beside the row "Alice 14:02:19 (0:12)". Where the replay list holds the transmission
(audio was received, or sent: your own talks are kept too), the line takes its start and
length from there; otherwise (an interphone only watched, nothing received, your own talk
cut by a lost link) from the speaker notices: from the notice that someone speaks to the
one that they stopped. When the start was not seen (the speech went on before: joined or
reconnected while it ran), the line says only when it ended ("Alice, until 14:02:31").

No Qt: :class:`Turn` is what the presenter records, :func:`last_spoke` makes the line's
:class:`LastSpoke` from it and the replay store's listing (the presenter keeps that in
the turn, ``told``, for when the listing has dropped the transmission).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.client.replay import TransmissionInfo

MATCH_SLACK_S = 1.0
"""A received transmission belongs to a turn when it starts within the turn, widened by
this much: its first packets often arrive just before the notice that the speaker
started (UDP and TCP race)."""


def clock_text(wall: float) -> str:
    """``HH:MM:SS`` of a ``time.time()``, in local time: the one wording of both places."""
    return time.strftime("%H:%M:%S", time.localtime(wall))


@dataclass(frozen=True, slots=True)
class LastSpoke:
    """The "Last spoke" line's content."""

    uid: str
    at: str
    """``HH:MM:SS`` it started; when ``length`` is None, when it ended"""
    length: float | None
    """seconds; None: its start was not seen"""
    cut: bool = False
    """our own talk, cut by a lost connection (its length up to the last moment the link
    was known to carry it)"""


@dataclass(frozen=True, slots=True)
class Turn:
    """A speaker's turn in an interphone as the speaker notices told it."""

    uid: str
    started: float | None  # time.monotonic(); None: it went on before it was seen
    ended: float  # time.monotonic()
    started_wall: float | None  # the same moments as time.time()
    ended_wall: float
    told: LastSpoke | None = None
    """how the replay list told it (its transmission's start and length), kept for when
    the list no longer holds it (10 minutes on): the line does not change then"""
    cut: bool = False
    """our own talk, cut by a lost connection: it ends where the link was last known to
    carry it"""

    @classmethod
    def ending(cls, uid: str, started: float | None, ended: float | None = None,
               ended_wall: float | None = None, *, cut: bool = False) -> Turn:
        """A turn that started at ``started`` (monotonic, or None) and ended at ``ended``
        (monotonic and wall clock; now when not given); ``cut``: see :attr:`cut`."""
        now, wall = time.monotonic(), time.time()
        end = now if ended is None else ended
        end_wall = wall - (now - end) if ended_wall is None else ended_wall
        start = None if started is None else min(started, end)
        start_wall = None if start is None else end_wall - (end - start)
        return cls(uid, start, end, start_wall, end_wall, cut=cut)


def received_in(turn: Turn, transmissions: Iterable[TransmissionInfo],
                longest: float) -> TransmissionInfo | None:
    """The newest received transmission of ``turn`` (``transmissions`` newest first, of its
    interphone); ``longest``: how long a turn may last (its start, when not seen, is at
    most that long before its end)."""
    start = turn.started if turn.started is not None else turn.ended - longest
    for transmission in transmissions:
        if (transmission.speaker == turn.uid
                and start - MATCH_SLACK_S <= transmission.started_at <= turn.ended):
            return transmission
    return None


def last_spoke(turn: Turn | None, transmissions: Iterable[TransmissionInfo], longest: float,
               started_text: Callable[[TransmissionInfo], str]) -> LastSpoke | None:
    """The "Last spoke" line of ``turn``: the received transmission's start and length as
    the replay list gives them (``started_text`` words its start), else the turn's own."""
    if turn is None:
        return None
    # (our own talk cut by a lost link: its frames went on after the link was last known
    # to carry them, the turn's own end is the truer one)
    received = None if turn.cut else received_in(turn, transmissions, longest)
    if received is not None:
        return LastSpoke(turn.uid, started_text(received), received.duration)
    if turn.told is not None:
        return turn.told
    if turn.started is not None and turn.started_wall is not None:
        return LastSpoke(turn.uid, clock_text(turn.started_wall), turn.ended - turn.started,
                         turn.cut)
    return LastSpoke(turn.uid, clock_text(turn.ended_wall), None, turn.cut)
