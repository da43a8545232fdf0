"""Jitter buffer, slot by slot, with time passed in."""

from __future__ import annotations

import random

import pytest

from app.audio.jitter import JitterBuffer, JitterOutput

F = 0.020  # frame period of the tables


def payload(seq: int) -> bytes:
    return f"pkt{seq}".encode()


def token(out: JitterOutput | None) -> str:
    if out is None:
        return "-"
    return f"{out.kind[0]}{out.seq}"


def run(ticks: list[list[int]], **kwargs: int) -> tuple[str, JitterBuffer]:
    """Each tick: its packets arrive (in list order), then the clock pops once.

    Returns the pops as tokens: ``a3`` audio of seq 3, ``f3`` seq 3 recovered
    by FEC, ``p3`` seq 3 concealed, ``s3`` a stall waiting for seq 3, ``-``
    nothing to play.
    """
    jb = JitterBuffer(20, **kwargs)
    tokens = []
    for i, arrivals in enumerate(ticks):
        for j, seq in enumerate(arrivals):
            jb.put(seq, payload(seq), i * F + 0.001 * j)
        out = jb.pop(i * F + F / 2)
        if out is not None and out.kind == "fec":
            assert out.payload == payload(out.seq + 1)  # FEC comes from the next packet
        if out is not None and out.kind == "audio":
            assert out.payload == payload(out.seq)
        tokens.append(token(out))
    return " ".join(tokens), jb


CASES = [
    # name, ticks, expected pops, expected stats (subset)
    ("in order", [[0], [1], [2], [3]], "a0 a1 a2 a3",
     {"received": 4, "lost": 0, "late": 0, "duplicate": 0}),
    ("reordered start", [[1, 0], [2], [3]], "a0 a1 a2", {"lost": 0}),
    ("duplicate while buffered", [[0], [1, 1], [2]], "a0 a1 a2", {"duplicate": 1}),
    ("duplicate after playing; a late packet plays after its stall",
     [[0], [1], [1], [2]], "a0 a1 s2 a2",
     {"duplicate": 1, "concealed_plc": 0, "stalls": 1, "lost": 0}),
    # The stall stood for slot 2: it is not concealed a second time, and the
    # timeline does not move (seq 3 plays in its own slot).
    ("single loss while dry: concealed once", [[0], [1], [], [3], [4], [5]],
     "a0 a1 s2 a3 a4 a5", {"lost": 1, "concealed_fec": 0, "concealed_plc": 1, "stalls": 1}),
    ("single loss with the next packet there: FEC, once", [[0, 1], [2], [4], [5], [6]],
     "a0 a1 a2 f3 a4", {"lost": 1, "concealed_fec": 1, "concealed_plc": 0, "stalls": 0}),
    ("loss of two in a row", [[0], [1, 2], [], [], [5], [6], [7]],
     "a0 a1 a2 s3 f4 a5 a6", {"lost": 2, "concealed_fec": 1, "concealed_plc": 1}),
    ("late packet is dropped", [[0], [], [2], [1], [3]], "a0 s1 a2 s3 a3",
     {"late": 1, "lost": 1, "concealed_plc": 1}),
    ("seq 0 after higher starts a new utterance", [[0], [1], [2], [0], [1], [2]],
     "a0 a1 a2 a0 a1 a2", {"resets": 1, "lost": 0}),
    ("late joiner starts mid-utterance", [[347], [348], [349]], "a347 a348 a349",
     {"lost": 0}),
    ("gross forward jump resets", [[0], [1], [500], [501]], "a0 a1 a500 a501",
     {"resets": 1, "lost": 0}),
    ("gross backward jump resets", [[700], [701], [3], [4]], "a700 a701 a3 a4",
     {"resets": 1}),
    ("end of talk: a few stalls then nothing", [[0], [1], [], [], [], [], []],
     "a0 a1 s2 s2 s2 - -", {"concealed_plc": 0, "stalls": 0, "faded": 3, "lost": 0}),
    ("resume after a gap skips to the data", [[0], [1], [], [], [], [], [], [7], [8]],
     "a0 a1 s2 s2 s2 - - a7 a8", {"lost": 5, "stalls": 0, "faded": 3}),
    ("nothing received plays nothing", [[], [], []], "- - -", {"received": 0}),
]


@pytest.mark.parametrize(("ticks", "expected", "stats"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_slots(ticks: list[list[int]], expected: str, stats: dict[str, int]) -> None:
    got, jb = run(ticks)
    assert got == expected
    snapshot = jb.stats
    for name, value in stats.items():
        assert getattr(snapshot, name) == value, name


@pytest.mark.parametrize(
    ("ticks", "expected"),
    [
        # Waits for two frames, then the reordered packet is in time.
        ([[0], [2], [1], [3], [4]], "- a0 a1 a2 a3"),
        # A single packet is not held forever waiting for the target depth.
        ([[0], [], [], []], "- a0 s1 s1"),
    ],
)
def test_min_delay_two(ticks: list[list[int]], expected: str) -> None:
    got, _ = run(ticks, min_delay_frames=2)
    assert got == expected


def test_long_hole_with_later_data_is_silence_not_endless_plc() -> None:
    got, jb = run([[0, 10, 11, 12], [13], [14], [15], [16], [17], [18]],
                  max_delay_frames=20)
    # Three concealed slots, then silence while the catch-up skips ahead.
    assert got.split()[:4] == ["a0", "p1", "p2", "p3"]
    assert "-" in got.split()[4:]
    assert jb.stats.concealed_plc == 3


def test_audio_is_dropped_unasked_only_past_the_maximum_delay() -> None:
    ticks = [[0], list(range(1, 16))] + [[s] for s in range(16, 30)] + [[]] * 20
    got, jb = run(ticks, max_delay_frames=8)
    assert jb.stats.dropped == 15 - 8  # down to the cap at once
    played = [t for t in got.split() if t.startswith("a")]
    assert played[:2] == ["a0", "a8"] and played[-1] == "a29"

    got, jb = run(ticks, max_delay_frames=20)  # under the cap: nothing dropped
    assert jb.stats.dropped == 0
    assert [t for t in got.split() if t.startswith("a")] == [f"a{s}" for s in range(30)]


def test_reset_forgets_stream_but_keeps_counters() -> None:
    _, jb = run([[0], [1]])
    jb.reset()
    assert jb.idle and jb.buffered == 0
    assert jb.stats.received == 2
    jb.put(5, b"x", 1.0)
    assert token(jb.pop(1.01)) == "a5"


def simulate(jb: JitterBuffer, seconds: float, jitter_ms: float, loss: float,
             rng: random.Random, start: float = 0.0, first_seq: int = 0) -> int:
    """Sender every F, network delay 5 ms + U(0, jitter), pops every F at +F/2."""
    frames = round(seconds / F)
    events: list[tuple[float, int, int | None]] = []
    for k in range(frames):
        if rng.random() >= loss:
            arrive = start + k * F + 0.005 + rng.uniform(0, jitter_ms / 1000)
            events.append((arrive, 0, first_seq + k))
        events.append((start + k * F + F / 2 + 0.012, 1, None))
    concealed = 0
    for when, kind, seq in sorted(events):
        if kind == 0:
            assert seq is not None
            jb.put(seq, payload(seq), when)
        else:
            out = jb.pop(when)
            concealed += out is not None and out.kind != "audio"
    return concealed


def test_clean_network_stays_at_minimum_delay() -> None:
    jb = JitterBuffer(20)
    concealed = simulate(jb, 10.0, jitter_ms=4, loss=0.0, rng=random.Random(1))
    assert jb.target_delay == 1
    assert concealed == 0
    assert jb.stats.loss_fraction == 0.0


def test_target_grows_under_jitter_and_shrinks_slowly() -> None:
    rng = random.Random(2)
    jb = JitterBuffer(20, shrink_interval=2.0)
    simulate(jb, 6.0, jitter_ms=70, loss=0.0, rng=rng)
    grown = jb.target_delay
    assert 3 <= grown <= 6
    # Back to a clean network: the window still remembers the jitter, and
    # afterwards the target shrinks by at most one frame per 2 s.
    history = []
    for i in range(12):
        simulate(jb, 1.0, jitter_ms=2, loss=0.0, rng=rng, start=6.0 + i, first_seq=300 + 50 * i)
        history.append(jb.target_delay)
    assert history[0] == grown
    assert all(a - b <= 1 for a, b in zip([grown, *history], history, strict=False))
    assert history[-1] < grown


def test_jittery_network_conceals_little_once_adapted() -> None:
    rng = random.Random(3)
    jb = JitterBuffer(20)
    simulate(jb, 3.0, jitter_ms=50, loss=0.0, rng=rng)
    concealed = simulate(jb, 5.0, jitter_ms=50, loss=0.0, rng=rng, start=3.0, first_seq=150)
    assert concealed / 250 < 0.05


@pytest.mark.parametrize("loss", [0.05, 0.10, 0.20])
def test_loss_fraction_tracks_random_loss(loss: float) -> None:
    jb = JitterBuffer(20)
    simulate(jb, 5.0, jitter_ms=2, loss=loss, rng=random.Random(4))
    assert jb.stats.loss_fraction == pytest.approx(loss, abs=0.05)
    assert jb.stats.expected_loss_pct >= 1
    assert jb.target_delay >= 2  # waits one frame so FEC can be used


def test_loss_fraction_ignores_end_of_utterance_tail() -> None:
    _, jb = run([[s] for s in range(20)] + [[]] * 6 + [[0], [1]])
    assert jb.stats.loss_fraction == 0.0


@pytest.mark.parametrize(("kwargs", "error"), [({"min_delay_frames": 0}, ValueError),
                                               ({"min_delay_frames": 5, "max_delay_frames": 4},
                                                ValueError)])
def test_rejects_bad_configuration(kwargs: dict[str, int], error: type[Exception]) -> None:
    with pytest.raises(error):
        JitterBuffer(20, **kwargs)


def test_rejects_bad_frame_duration() -> None:
    with pytest.raises(ValueError):
        JitterBuffer(25)


def test_start_margin_holds_the_first_packet_that_long() -> None:
    jb = JitterBuffer(20, start_margin=0.004)
    jb.put(0, payload(0), 1.000)
    assert jb.pop(1.002) is None  # a fine-grained playout clock asks again soon
    assert token(jb.pop(1.0045)) == "a0"


def test_delay_left_by_a_stall_goes_with_a_quiet_frame_not_speech() -> None:
    # Pops 5 ms after each arrival; seq 2 comes 8 ms late (not enough jitter
    # to raise the target): the stream stalls once (one frame more delay:
    # every packet now waits 25 ms). Once that late packet has left the
    # jitter window (250 arrivals) the buffer asks to shrink; the caller drops
    # only a quiet frame (seqs 300-309 are a pause), never speech.
    jb = JitterBuffer(20, excess_window=5)
    quiet = set(range(300, 310))
    events = [(seq * F + (0.008 if seq == 2 else 0.0), seq) for seq in range(400)]
    events += [(slot * F + 0.005, -1) for slot in range(401)]
    tokens, dropped = [], []
    for when, seq in sorted(events):
        if seq >= 0:
            jb.put(seq, payload(seq), when)
            continue
        out = jb.pop(when)
        while out is not None and out.resize < 0 and out.kind == "audio" and out.seq in quiet:
            dropped.append(out.seq)
            jb.resized(-1)
            out = jb.pop(when)
        tokens.append(token(out))
    assert tokens[:4] == ["a0", "a1", "s2", "a2"]
    assert dropped == [300]
    assert tokens[-2:] == ["a399", "s400"]  # caught up: the newest packet plays in its own slot
    assert [t for t in tokens if t.startswith("a")] == [f"a{s}" for s in range(400) if s != 300]


def test_steady_stream_at_target_never_asks_to_resize() -> None:
    jb = JitterBuffer(20, excess_window=5, deficit_window=3)
    outs = []
    for i in range(60):
        jb.put(i, payload(i), i * F)
        outs.append(jb.pop(i * F + F / 2))
    assert " ".join(token(o) for o in outs) == " ".join(f"a{s}" for s in range(60))
    assert all(o is not None and o.resize == 0 for o in outs)
    assert jb.stats.dropped == 0


def test_the_deviation_percentile_follows_its_window_without_sorting_per_packet():
    """The kept-in-order copy of the jitter window (no sort per packet) stays exactly the
    window, through evictions and a carried history, and the p95 is taken from it."""
    rng = random.Random(7)
    buffer = JitterBuffer(max_delay_frames=10)
    now = 0.0
    for seq in range(700):  # well past the 250-arrival window
        now += 0.020 + rng.choice([0.0, 0.0, 0.001, 0.004, -0.003, 0.012])
        buffer.put(seq, b"\xf8", now)
        while buffer.pop(now) is not None:
            pass
    window = list(buffer._deviations)
    assert len(window) == 250
    assert buffer._sorted_deviations == sorted(window)
    assert buffer._p95_deviation == sorted(window)[int(0.95 * 250)]
    follower = JitterBuffer(max_delay_frames=10)
    follower.carry_history(buffer)
    follower.put(0, b"\xf8", now + 1.0)
    follower.put(1, b"\xf8", now + 1.05)  # 30 ms late: one more deviation
    assert follower._sorted_deviations == sorted(follower._deviations)
    assert len(follower._deviations) == 250


def test_the_fec_count_follows_the_window_of_the_last_packets() -> None:
    """The count of packets carrying FEC, kept per packet without summing, stays the
    number among the last _FEC_WINDOW packets as flags come and leave the window."""
    from app.audio.jitter import _FEC_WINDOW

    rng = random.Random(7)
    buffer = JitterBuffer(20, 1, 10)
    flags: list[bool] = []
    for seq in range(3 * _FEC_WINDOW):
        fec = rng.random() < (0.9 if seq < _FEC_WINDOW else 0.1)
        flags.append(fec)
        buffer.put(seq, b"\x08\x00", seq * 0.02, fec=fec)
        assert buffer._fec_count == sum(flags[-_FEC_WINDOW:])
