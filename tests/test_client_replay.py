"""Instant replay: grouping into transmissions, listing, heard/unheard, age and byte bounds."""

from __future__ import annotations

import numpy as np
import pytest

from app.audio.codec import OpusDecoder, OpusEncoder
from app.audio.constants import SAMPLE_RATE, frame_samples
from app.client.replay import (
    FRAME_OVERHEAD,
    MAX_CONCEALED,
    TRANSMISSION_OVERHEAD,
    ReplayStore,
    Stored,
    TransmissionInfo,
    opus_packet_duration,
)

G, D = "group_58", "discuss_12"


def speech_frames(count: int, frame_ms: int = 20) -> list[bytes]:
    encoder = OpusEncoder(frame_ms=frame_ms)
    n = frame_samples(frame_ms)
    t = np.arange(count * n) / SAMPLE_RATE
    pcm = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return [encoder.encode(pcm[i * n:(i + 1) * n]) for i in range(count)]


FRAME = speech_frames(1)[0]


def feed(store: ReplayStore, interphone: str, speaker: str, seqs: range | list[int],
         start: float, frame: bytes = FRAME) -> int:
    number = 0
    for index, seq in enumerate(seqs):
        number = store.add_frame(interphone, speaker, seq, frame, start + index * 0.02).number
    return number


# ---- packet durations ----------------------------------------------------------------------------

@pytest.mark.parametrize("frame_ms", [10, 20, 40, 60])
def test_duration_of_real_opus_packets(frame_ms: int) -> None:
    packet = speech_frames(1, frame_ms)[0]
    assert opus_packet_duration(packet) == pytest.approx(frame_ms / 1000)


@pytest.mark.parametrize(("packet", "seconds"), [
    (bytes([0 << 3]), 0.010),  # SILK 10 ms, one frame
    (bytes([3 << 3]), 0.060),  # SILK 60 ms
    (bytes([13 << 3]), 0.020),  # hybrid 20 ms
    (bytes([16 << 3]), 0.0025),  # CELT 2.5 ms
    (bytes([(31 << 3) | 1]), 0.040),  # CELT 20 ms, two frames
    (bytes([(31 << 3) | 3, 6]), 0.120),  # CELT 20 ms, six frames (code 3)
    (bytes([(3 << 3) | 3, 3]), 0.0),  # 3 x 60 ms: over 120 ms, invalid
    (bytes([(31 << 3) | 3]), 0.0),  # code 3 without its count byte
    (b"", 0.0),
])
def test_duration_from_the_toc_byte(packet: bytes, seconds: float) -> None:
    assert opus_packet_duration(packet) == pytest.approx(seconds)


# ---- grouping ------------------------------------------------------------------------------------

def test_one_utterance_is_one_transmission() -> None:
    store = ReplayStore()
    number = feed(store, G, "bob", range(50), 10.0)
    assert store.transmissions(G, 11.0) == [TransmissionInfo(
        number, G, "bob", 10.0, pytest.approx(1.0), 50, False, True, False)]


@pytest.mark.parametrize(("second_speaker", "second_seqs", "pause", "closed", "count"), [
    ("bob", range(10, 20), 0.0, False, 1),  # continues
    ("bob", range(0, 10), 0.0, False, 2),  # seq back to 0: a new grant
    ("carol", range(10, 20), 0.0, False, 2),  # another speaker
    ("bob", range(10, 20), 1.5, False, 2),  # a pause longer than the gap
    ("bob", range(0, 10), 0.0, True, 2),  # closed, then bob's next grant
    ("bob", range(3, 10), 0.0, True, 2),  # closed, then bob's next grant, its first lost
    ("carol", range(10, 20), 0.0, True, 2),  # closed, then another speaker
    ("bob", range(10, 20), 1.5, True, 2),  # closed, then bob again after the gap
])
def test_what_starts_a_new_transmission(second_speaker: str, second_seqs: range, pause: float,
                                        closed: bool, count: int) -> None:
    store = ReplayStore(gap=1.0)
    feed(store, G, "bob", range(10), 0.0)
    if closed:
        store.close(G)
    feed(store, G, second_speaker, second_seqs, 0.2 + pause)
    assert len(store.transmissions(G, 5.0)) == count


def test_late_packets_after_the_close_join_the_closed_transmission() -> None:
    """The speaker-change notice (TCP) overtakes the utterance's last packets (UDP): they
    still belong to it, which stays closed, instead of making a stray 0-second entry."""
    store = ReplayStore(gap=1.0)
    number = feed(store, G, "bob", range(50), 0.0)
    store.close(G)
    assert feed(store, G, "bob", range(50, 55), 1.0) == number
    [only] = store.transmissions(G, 1.2)
    assert (only.number, only.frame_count, only.receiving) == (number, 55, False)
    assert only.duration == pytest.approx(1.1)
    assert feed(store, G, "bob", range(0, 5), 1.2) != number  # the next grant: a new one


def test_a_transmission_cut_by_a_lost_link_says_when_it_opens_again() -> None:
    """Its speaker goes on after the reconnect: the packet that opens it again says so, and
    the ones after it (open already) or a late one of an ended transmission do not."""
    store = ReplayStore(gap=1.0)
    number = feed(store, G, "bob", range(10), 0.0)
    store.close(G, cut=True)
    assert not store.transmissions(G, 0.5)[0].receiving
    assert store.add_frame(G, "bob", 12, FRAME, 0.5) == Stored(number, reopened=True)
    assert store.transmissions(G, 0.5)[0].receiving
    assert store.add_frame(G, "bob", 13, FRAME, 0.52) == Stored(number)
    store.close(G)  # bob stopped: a late packet joins, closed
    assert store.add_frame(G, "bob", 14, FRAME, 0.6) == Stored(number)
    assert not store.transmissions(G, 0.6)[0].receiving


def test_the_notice_that_a_speaker_starts_keeps_their_transmission_open() -> None:
    """The first packets (UDP) often overtake the notice that bob speaks (TCP): that notice
    must not close bob's transmission (it showed as two entries, the first greyed)."""
    store = ReplayStore(gap=1.0)
    number = feed(store, G, "bob", range(5), 0.0)
    store.close(G, "bob")
    assert feed(store, G, "bob", range(5, 50), 0.1) == number
    [only] = store.transmissions(G, 1.0)
    assert (only.frame_count, only.receiving) == (50, True)
    store.close(G, "carol")  # someone else now: bob's is complete
    assert not store.transmissions(G, 1.0)[0].receiving


def test_duplicates_and_late_packets_are_not_stored_twice() -> None:
    store = ReplayStore()
    number = feed(store, G, "bob", [0, 1, 2], 0.0)
    assert store.add_frame(G, "bob", 2, FRAME, 0.1) == Stored(0)
    assert store.add_frame(G, "bob", 1, FRAME, 0.1) == Stored(0)
    assert len(store.playback(number)) == 3


def test_lost_packets_are_concealed_on_playback_and_counted_in_the_duration() -> None:
    store = ReplayStore()
    frames = speech_frames(6)
    for seq, index in ((0, 0), (1, 1), (4, 2), (5, 3)):
        number = store.add_frame(G, "bob", seq, frames[index], seq * 0.02).number
    assert store.playback(number) == (frames[0], frames[1], b"", b"", frames[2], frames[3])
    assert store.last(G, 1.0).duration == pytest.approx(0.12)  # type: ignore[union-attr]
    decoder = OpusDecoder()
    pcm = [decoder.decode(frame) if frame else decoder.conceal()
           for frame in store.playback(number)]
    assert [len(block) for block in pcm] == [frame_samples(20)] * 6


def test_a_long_gap_is_concealed_up_to_a_bound() -> None:
    store = ReplayStore()
    number = feed(store, G, "bob", [0, 1000], 0.0)
    assert store.playback(number).count(b"") == MAX_CONCEALED


# ---- listing, heard and unheard ------------------------------------------------------------------

def test_newest_first_per_interphone_and_overall_and_replay_last() -> None:
    store = ReplayStore()
    first = feed(store, G, "bob", range(5), 0.0)
    second = feed(store, D, "carol", range(5), 2.0)
    third = feed(store, G, "dave", range(5), 4.0)
    assert [t.number for t in store.transmissions(G, 5.0)] == [third, first]
    assert [t.number for t in store.transmissions(None, 5.0)] == [third, second, first]
    assert store.last(D, 5.0).number == second  # type: ignore[union-attr]
    assert store.last(None, 5.0).number == third  # type: ignore[union-attr]
    assert store.last("group_1", 5.0) is None
    assert [t.receiving for t in store.transmissions(None, 5.0)] == [True, True, False]


def test_what_arrives_for_another_interphone_is_unheard_until_played() -> None:
    store = ReplayStore()
    store.select(G)
    feed(store, G, "bob", range(5), 0.0)
    other = feed(store, D, "carol", range(5), 0.0)
    assert [(t.interphone, t.heard) for t in store.transmissions(None, 1.0)] == [
        (D, False), (G, True)]
    assert store.unheard(None, 1.0) == 1 and store.unheard(G, 1.0) == 0
    store.mark_heard(other)
    assert store.unheard(None, 1.0) == 0


def test_selecting_an_interphone_mid_transmission_hears_it() -> None:
    store = ReplayStore()
    store.select(G)
    number = feed(store, D, "carol", range(5), 0.0)
    store.select(D)
    feed(store, D, "carol", range(5, 10), 0.1)
    assert store.transmissions(D, 1.0)[0].number == number
    assert store.transmissions(D, 1.0)[0].heard


# ---- bounds --------------------------------------------------------------------------------------

def test_transmissions_older_than_max_age_are_dropped() -> None:
    store = ReplayStore(max_age=600.0)
    old = feed(store, G, "bob", range(5), 0.0)
    new = feed(store, G, "carol", range(5), 300.0)
    assert [t.number for t in store.transmissions(G, 600.0)] == [new, old]
    assert [t.number for t in store.transmissions(G, 601.0)] == [new]
    assert store.playback(old) == ()
    store.prune(1000.0)
    assert store.bytes_used == 0


def test_the_byte_bound_is_never_exceeded_and_drops_the_oldest_first() -> None:
    per_transmission = TRANSMISSION_OVERHEAD + 10 * (len(FRAME) + FRAME_OVERHEAD)
    store = ReplayStore(max_bytes=3 * per_transmission + 100)
    numbers = []
    for n in range(8):
        numbers.append(feed(store, G if n % 2 else D, f"u{n}", range(10), n * 2.0))
        assert store.bytes_used <= store.max_bytes
    assert [t.number for t in store.transmissions(None, 20.0)] == numbers[:-4:-1]
    assert store.bytes_used == 3 * per_transmission
    assert all(not t.truncated for t in store.transmissions(None, 20.0))


def test_a_single_transmission_larger_than_the_bound_is_truncated() -> None:
    store = ReplayStore(max_bytes=TRANSMISSION_OVERHEAD + 5 * (len(FRAME) + FRAME_OVERHEAD))
    number = feed(store, G, "bob", range(20), 0.0)
    info = store.last(G, 1.0)
    assert info is not None and info.number == number
    assert (info.frame_count, info.truncated) == (5, True)
    assert store.bytes_used <= store.max_bytes


def test_forget_drops_one_interphone() -> None:
    store = ReplayStore()
    feed(store, G, "bob", range(5), 0.0)
    kept = feed(store, D, "carol", range(5), 0.0)
    store.forget(G)
    assert [t.number for t in store.transmissions(None, 1.0)] == [kept]
    assert store.bytes_used == TRANSMISSION_OVERHEAD + 5 * (len(FRAME) + FRAME_OVERHEAD)


@pytest.mark.parametrize("bad", [{"max_age": 0}, {"gap": -1}, {"max_bytes": 10}])
def test_store_rejects_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError):
        ReplayStore(**bad)


def test_the_per_frame_overhead_covers_what_python_really_spends() -> None:
    import sys
    for frame in speech_frames(3):
        assert sys.getsizeof(bytes(frame)) + 2 * 8 <= len(frame) + FRAME_OVERHEAD  # two slots


# ---- our own talks -------------------------------------------------------------------------------

def talk(store: ReplayStore, interphone: str, seqs: range, start: float) -> int:
    number = 0
    for index, seq in enumerate(seqs):
        number = store.add_own_frame(interphone, "me", seq, FRAME, start + index * 0.02)
    return number


def test_an_own_talk_is_listed_as_ours_heard_and_ends_with_the_floor() -> None:
    store = ReplayStore()
    feed(store, G, "bob", range(10), 0.0)  # unheard: another interphone is looked at
    number = talk(store, G, range(50), 1.0)
    mine, bobs = store.transmissions(G, 2.0)
    assert (mine.number, mine.own, mine.speaker, mine.heard, mine.receiving) == (
        number, True, "me", True, True)
    assert not bobs.own and store.unheard(G, 2.0) == 1  # ours never counts as unheard
    assert mine.duration == pytest.approx(1.0)
    assert store.end_own() and not store.end_own()
    assert not store.transmissions(G, 2.0)[0].receiving
    assert store.playback(number) == (FRAME,) * 50


def test_a_late_packet_of_the_speaker_before_does_not_split_an_own_talk() -> None:
    """Bob's last packet arrives after our grant: it joins his entry, ours goes on."""
    store = ReplayStore(gap=1.0)
    bobs = feed(store, G, "bob", range(20), 0.0)
    store.close(G)
    mine = talk(store, G, range(10), 0.5)
    assert store.add_frame(G, "bob", 20, FRAME, 0.7) == Stored(bobs)
    assert talk(store, G, range(10, 30), 0.7) == mine
    assert [(t.number, t.frame_count) for t in store.transmissions(G, 1.5)] == [
        (mine, 30), (bobs, 21)]


def test_late_frames_join_the_talk_ended_and_a_new_grant_starts_another() -> None:
    store = ReplayStore(gap=1.0)
    first = talk(store, G, range(20), 0.0)
    store.end_own()
    assert talk(store, G, range(20, 22), 0.5) == first  # sent as the floor went
    assert not store.transmissions(G, 1.0)[0].receiving
    second = talk(store, G, range(5), 1.0)  # seq 0 again: the next grant
    assert second > first
    store.end_own()
    third = talk(store, D, range(5, 10), 1.2)  # another interphone: not the one ended
    assert third > second
    assert [t.frame_count for t in store.transmissions(None, 2.0)] == [5, 5, 22]


def test_own_talks_share_the_byte_bound() -> None:
    per_talk = TRANSMISSION_OVERHEAD + 10 * (len(FRAME) + FRAME_OVERHEAD)
    store = ReplayStore(max_bytes=2 * per_talk)
    feed(store, G, "bob", range(10), 0.0)
    for n in range(3):
        talk(store, G, range(10), 1.0 + n)
        store.end_own()
        assert store.bytes_used <= store.max_bytes
    listed = store.transmissions(None, 5.0)
    assert len(listed) == 2 and all(t.own for t in listed)
