"""The "Last spoke" line (app/ui/last_spoke.py): a turn told as the replay list tells its
transmission, else from the speaker notices. Pure: no Qt, no clock (turns and
transmissions are made with the times they need)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from app.client.replay import TransmissionInfo
from app.ui.last_spoke import LastSpoke, Turn, clock_text, last_spoke

MAX_TALK = 60.0
WALL = 1_800_000_000.0  # the wall clock at monotonic 1000
AT = clock_text(WALL)


def turn(uid: str, started: float | None, ended: float) -> Turn:
    """A turn on a clock where monotonic 1000 is ``WALL``."""
    return Turn(uid, started, ended, None if started is None else WALL + started - 1000,
                WALL + ended - 1000)


def received(number: int, speaker: str, started_at: float, duration: float) -> TransmissionInfo:
    return TransmissionInfo(number, "group_58", speaker, started_at, duration,
                            int(duration / 0.02), heard=True, receiving=False, truncated=False)


def as_listed(transmission: TransmissionInfo) -> str:
    """What the replay list gives as its start (here: its number, to tell them apart)."""
    return f"#{transmission.number}"


@pytest.mark.parametrize(("case", "the_turn", "listing", "told"), [
    ("received: the list's start and length",
     turn("alice", 1000.0, 1012.4), [received(1, "alice", 999.8, 12.2)],
     LastSpoke("alice", "#1", 12.2)),
    ("split by a pause: the newest part, the list's top row",
     turn("alice", 1000.0, 1012.4),
     [received(2, "alice", 1006.0, 6.0), received(1, "alice", 1000.1, 4.0)],
     LastSpoke("alice", "#2", 6.0)),
    ("nothing received (your own, or only watched): the notices",
     turn("me", 1000.0, 1005.0), [], LastSpoke("me", AT, 5.0)),
    ("someone else's transmission is not this turn",
     turn("alice", 1000.0, 1005.0), [received(1, "bob", 1000.0, 5.0)],
     LastSpoke("alice", AT, 5.0)),
    ("an earlier turn of the same speaker is not this one",
     turn("alice", 1000.0, 1005.0), [received(1, "alice", 900.0, 5.0)],
     LastSpoke("alice", AT, 5.0)),
    ("the next turn of the same speaker is not this one",
     turn("alice", 1000.0, 1005.0), [received(1, "alice", 1007.0, 2.0)],
     LastSpoke("alice", AT, 5.0)),
    ("its start not seen, nothing received: only its end",
     turn("alice", None, 1000.0), [], LastSpoke("alice", AT, None)),
    ("its start not seen, received: the list's",
     turn("alice", None, 1030.0), [received(1, "alice", 1002.0, 28.0)],
     LastSpoke("alice", "#1", 28.0)),
])
def test_the_last_spoke_line(case: str, the_turn: Turn, listing: list[TransmissionInfo],
                             told: LastSpoke) -> None:
    assert last_spoke(the_turn, listing, MAX_TALK, as_listed) == told, case


def test_nobody_yet() -> None:
    assert last_spoke(None, [], MAX_TALK, as_listed) is None


def test_a_turn_told_from_the_list_says_the_same_once_the_list_dropped_it() -> None:
    """Ten minutes on, the replay list forgets the transmission; the line kept saying
    "at 14:02:19 (0:12)", not the notices' "14:02:18 (0:13)"."""
    spoken = turn("alice", 1000.0, 1012.6)
    told = last_spoke(spoken, [received(1, "alice", 1000.4, 12.2)], MAX_TALK, as_listed)
    assert told == LastSpoke("alice", "#1", 12.2)
    assert last_spoke(replace(spoken, told=told), [], MAX_TALK, as_listed) == told


def test_a_turn_ending_now_or_when_the_link_was_lost() -> None:
    now = time.monotonic()
    ended_now = Turn.ending("alice", now - 3.0)
    assert ended_now.started is not None and ended_now.started_wall is not None
    assert ended_now.ended - ended_now.started == pytest.approx(3.0, abs=0.1)
    assert ended_now.ended_wall == pytest.approx(time.time(), abs=0.5)
    lost = Turn.ending("alice", now - 10.0, now - 4.0)
    assert lost.ended == now - 4.0
    assert lost.ended_wall == pytest.approx(time.time() - 4.0, abs=0.5)
    assert lost.started_wall == pytest.approx(time.time() - 10.0, abs=0.5)
    assert Turn.ending("alice", None).started_wall is None


def test_your_talk_cut_by_a_lost_link_is_told_as_cut() -> None:
    """A talk of ours cut by a lost connection: its length up to where the link last
    carried it, and the line says it was cut off."""
    now = time.monotonic()
    cut = Turn.ending("me", now - 14.0, now - 11.0, cut=True)
    told = last_spoke(cut, [], MAX_TALK, as_listed)
    assert told is not None and told.cut and told.length == pytest.approx(3.0)
    assert not last_spoke(turn("me", 1000.0, 1003.0), [], MAX_TALK, as_listed).cut  # type: ignore[union-attr]
