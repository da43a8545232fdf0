"""A hostile server cannot grow the client model without limit (issue 12, item 7)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from app.audio.codec import OpusEncoder
from app.audio.mixer import MAX_TALKERS as AUDIO_MAX_TALKERS
from app.audio.mixer import PlaybackMixer
from app.client import ClientModel
from app.client.calls_model import MAX_CALLS
from app.client.events import CallState, IncomingCall
from app.client.model import MAX_UNSOLICITED_INTERPHONES
from app.headless.mix_clock import MAX_TALKERS as CLI_MAX_TALKERS
from app.headless.mix_clock import MixClock
from app.protocol import InterphoneId, InterphoneInfo, LoginResult, RosterEntry
from app.protocol.presence import CallNotice, CallNoticeType, PresenceChanged

G58 = InterphoneId.group("58")


def chat(n: int) -> InterphoneInfo:
    other = f"peer{n}"
    return InterphoneInfo(InterphoneId.chat("me", other), other, 2, "", ("me", other))


def logged_in() -> ClientModel:
    model = ClientModel("me", clock=lambda: 0.0)
    model.apply_login(LoginResult("me", 9400, 15, 60, (RosterEntry("group", "58", "Ops"),)))
    return model


def test_unsolicited_interphones_are_capped_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    model = logged_in()
    for n in range(MAX_UNSOLICITED_INTERPHONES + 500):
        model.apply_info(chat(n))
    assert len(model.interphones) == MAX_UNSOLICITED_INTERPHONES
    assert len([r for r in caplog.records if "outside the roster" in r.message]) == 1
    # the client keeps working: its roster's interphones are still tracked
    model.apply_info(InterphoneInfo(G58, "58", 1, "", ("bob",)))
    assert model.interphone(G58) is not None


def test_an_ended_interphone_frees_its_place() -> None:
    model = logged_in()
    for n in range(MAX_UNSOLICITED_INTERPHONES):
        model.apply_info(chat(n))
    first = chat(0)
    model.apply_info(InterphoneInfo(first.id, first.attach_id, 0, "", ()))
    model.apply_info(chat(10_000))
    assert model.interphone(chat(10_000).id) is not None
    model.apply_info(chat(20_000))  # full again
    assert model.interphone(chat(20_000).id) is None


def test_the_playback_mixer_decodes_at_most_max_talkers(packets_20ms: bytes,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    mixer = PlaybackMixer(clock=lambda: 100.0)
    for n in range(AUDIO_MAX_TALKERS + 50):
        mixer.receive(f"peer{n}", 0, packets_20ms)
    assert len(mixer.talkers()) == AUDIO_MAX_TALKERS
    assert "peer0" in mixer.talkers()  # the ones already heard keep playing
    assert len([r for r in caplog.records if "talkers at once" in r.message]) == 1


async def test_the_cli_mixer_decodes_at_most_max_talkers(packets_20ms: bytes) -> None:
    clock = MixClock(lambda frame: None)
    for n in range(CLI_MAX_TALKERS + 10):
        clock.on_audio(f"peer{n}", 0, packets_20ms)
    assert len(clock._talkers) == CLI_MAX_TALKERS
    assert clock.bad_packets == 10
    clock.close()


@pytest.fixture(scope="module")
def packets_20ms() -> bytes:
    with OpusEncoder() as encoder:
        return encoder.encode(np.zeros(960, dtype=np.float32))


def test_presence_is_kept_for_contacts_only_and_calls_are_capped(
        caplog: pytest.LogCaptureFixture) -> None:
    """A server could make the model keep the status of any number of uids (one
    ``<presence>`` notice each), ring it for any number of chats (each an
    :class:`IncomingCall` the desktop announces) and track any number of calls of ours.
    Status is now kept for the roster's contacts only, and at most ``MAX_CALLS`` chats
    ring us or are tracked as our calls (the excess ignored, logged once)."""
    caplog.set_level(logging.WARNING)
    events: list[object] = []
    model = ClientModel("me", clock=lambda: 0.0)
    model.subscribe(events.append)
    model.apply_login(LoginResult("me", 9400, 15, 60, (RosterEntry("contact", "bob", "Bob"),),
                                  features=("presence",)))
    for n in range(MAX_CALLS + 500):
        model.apply_body(PresenceChanged(f"peer{n}", True))
        model.apply_body(CallNotice(CallNoticeType.RINGING, InterphoneId.chat("me", f"peer{n}"),
                                    f"peer{n}", 30))
        model.apply_body(CallNotice(CallNoticeType.ANSWERED,
                                    InterphoneId.chat("me", f"caller{n}")))
    model.apply_body(PresenceChanged("bob", True))
    assert dict(model.presence) == {"bob": True}
    assert len(model.incoming_calls) == MAX_CALLS
    assert sum(isinstance(e, IncomingCall) for e in events) == MAX_CALLS
    assert len([r for r in caplog.records if "ignoring call notices" in r.message]) == 1
    # the newest calls of ours are still followed: the oldest ended ones made room
    assert model.outgoing_call(InterphoneId.chat("me", f"caller{MAX_CALLS + 499}")) \
        is CallState.ANSWERED
    assert model.outgoing_call(InterphoneId.chat("me", "caller0")) is None
    # a ring that ends makes room for another
    first = InterphoneId.chat("me", "peer0")
    model.apply_body(CallNotice(CallNoticeType.ENDED, first, reason="cancelled"))
    model.apply_body(CallNotice(CallNoticeType.RINGING, InterphoneId.chat("me", "zed"),
                                "zed", 30))
    assert InterphoneId.chat("me", "zed") in model.incoming_calls


def test_names_lose_bidi_controls_and_line_breaks() -> None:
    """A display name from the server went to every label, notification and screen reader
    as it came: a right-to-left override turned the rest of the line around ("Dave" and
    U+202E: "Dave is speaking" shown as "Dave gnikaeps si"), or spelt one name as another,
    and a line break split a one-line label. Names are now one line without bidi
    controls; right-to-left scripts keep their natural direction."""
    model = ClientModel("me", clock=lambda: 0.0)
    model.apply_login(LoginResult(
        "me", 9400, 15, 60, (RosterEntry("group", "58", "Ops\u2067x\u2069"),
                             RosterEntry("contact", "dave", "Dave\u202e"),
                             RosterEntry("contact", "eve", "\u202eecilA"),
                             RosterEntry("contact", "sam", "Sam\nAdmin"),
                             RosterEntry("contact", "omar", "\u0639\u0645\u0631")),
        name="Me\u202d\r\n"))
    assert [e.name for e in model.roster] == ["Opsx", "Dave", "ecilA", "Sam Admin",
                                              "\u0639\u0645\u0631"]
    assert model.name == "Me  "
