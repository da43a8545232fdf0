"""After a stall of the playout side (``JitterBuffer.resync``, told by the mixer whose
output took no frame for longer than the buffer), the backlog is dropped down to the
target, and so is the one the network side hands over just after; the backlog's bunched
arrivals do not count as jitter. Time passed in; ``PlaybackMixer`` with a clock the test
moves, and real Opus packets."""

from __future__ import annotations

import numpy as np
from audio_helpers import Clock

from app.audio.codec import OpusEncoder
from app.audio.constants import SAMPLE_RATE
from app.audio.jitter import RESYNC_WINDOW_S, JitterBuffer
from app.audio.mixer import PlaybackMixer

F = 0.020


def steady(jb: JitterBuffer, seqs: range, start: float) -> list[int]:
    """One packet a frame from ``start``, each popped 5 ms after it came: the seqs played."""
    played = []
    for i, seq in enumerate(seqs):
        jb.put(seq, b"x", start + i * F)
        out = jb.pop(start + i * F + 0.005)
        assert out is not None and out.kind == "audio"
        played.append(out.seq)
    return played


def test_the_backlog_of_a_stopped_process_is_dropped_whether_it_came_before_or_after() -> None:
    for backlog_first in (True, False):
        jb = JitterBuffer(20)
        assert steady(jb, range(50), 0.0) == list(range(50))
        # stopped for 1 s at 1.0: its socket queued seqs 50..99, handed over at 2.0 at once
        resumed = 2.0
        if backlog_first:
            for seq in range(50, 100):
                jb.put(seq, b"x", resumed + 0.00001 * seq)
        jb.resync(resumed + 0.001)  # the output's first frame after the resume
        if not backlog_first:
            for seq in range(50, 100):
                jb.put(seq, b"x", resumed + 0.002 + 0.00001 * seq)
        out = jb.pop(resumed + 0.005)
        assert out is not None and (out.kind, out.seq) == ("audio", 99)  # the newest only
        # and on at the usual delay: the bunched arrivals were no jitter
        assert steady(jb, range(100, 150), resumed + F) == list(range(100, 150))
        stats = jb.stats
        assert stats.target_delay_frames == 1 and stats.jitter_ms < 1.0
        assert (stats.dropped, stats.lost, stats.late) == (49, 0, 0)


def test_a_resync_keeps_the_target_the_network_asked_for() -> None:
    jb = JitterBuffer(20)
    for seq in range(200):  # every other packet 30 ms late: a target of 3 frames
        jb.put(seq, b"x", seq * F + (0.03 if seq % 2 else 0.0))
        jb.pop(seq * F + 0.045)
    target = jb.target_delay
    assert target == 3
    for seq in range(200, 260):  # the output stalled 1.2 s; packets came meanwhile
        jb.put(seq, b"x", seq * F + (0.03 if seq % 2 else 0.0))
    now = 259 * F + 0.035
    jb.resync(now)
    out = jb.pop(now)
    assert out is not None and out.seq == 259 - target + 1
    assert jb.target_delay == target


def test_after_the_window_a_burst_is_the_network_s_again() -> None:
    jb = JitterBuffer(20)
    steady(jb, range(20), 0.0)
    jb.resync(0.5)
    now = 0.5 + RESYNC_WINDOW_S + 0.01
    for seq in range(20, 26):  # a burst after the window: held by the network, played
        jb.put(seq, b"x", now)
    played = [out.seq for out in (jb.pop(now + i * F) for i in range(6)) if out is not None]
    assert played == list(range(20, 26))


def encoded(frames: int) -> list[bytes]:
    t = np.arange(frames * 960) / SAMPLE_RATE
    pcm = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    with OpusEncoder(20) as encoder:
        return [encoder.encode(pcm[i * 960:(i + 1) * 960]) for i in range(frames)]


def test_the_mixer_resyncs_its_talkers_when_its_output_took_no_frame_for_long() -> None:
    packets = encoded(160)
    for solo in (True, False):
        clock = Clock()
        mixer = PlaybackMixer(clock=clock)
        if not solo:
            mixer.set_monitor(True)  # the general path: the monitor mixed in (silent)
        out = np.zeros(480, dtype=np.float32)
        seq = 0
        for _ in range(20):  # steady: a packet a frame, two 10 ms blocks a frame
            mixer.receive("alice", seq, packets[seq])
            seq += 1
            for _ in range(2):
                clock.now += 0.005
                mixer.fill(out)
                clock.now += 0.005
        # the output stalls 1 s (the receive thread goes on: the packets queue up)
        for _ in range(50):
            mixer.receive("alice", seq, packets[seq])
            seq += 1
            clock.now += F
        jitter = mixer._talkers["alice"].stream.jitter
        for _ in range(4):
            mixer.fill(out)
            clock.now += 0.01
        # ...and a new talker whose first packets came queued by the stall
        for bob_seq in range(30):
            mixer.receive("bob", bob_seq, packets[bob_seq])
        mixer.fill(out)
        assert jitter.stats.dropped >= 48, jitter.stats
        assert jitter.depth <= jitter.target_delay
        bob = mixer._talkers["bob"].stream.jitter
        assert bob.stats.dropped == 30 - bob.target_delay, bob.stats


def test_a_backlog_handed_over_slowly_is_dropped_by_the_playout_clock_of_before() -> None:
    """The receive thread of a loaded machine hands the stopped process's backlog over
    more slowly than the output pops: the newest slots so far are long late too."""
    jb = JitterBuffer(20)
    assert steady(jb, range(50), 0.0) == list(range(50))
    resumed = 2.0  # stopped at 1.0: seqs 50..99 queued, 100 on come in real time after
    jb.resync(resumed + 0.001)
    played = []
    arrivals = [(resumed + 0.002 * (seq - 50), seq) for seq in range(50, 100)]
    arrivals += [(max(resumed + (seq - 100) * F, arrivals[-1][0]) + 0.0001, seq)
                 for seq in range(100, 130)]
    pops = [resumed + 0.005 + i * F for i in range(30)]
    for at, seq in sorted(arrivals):
        while pops and pops[0] < at:
            out = jb.pop(pops.pop(0))
            if out is not None and out.kind == "audio":
                played.append(out.seq)
        jb.put(seq, b"x", at)
    # what the clock of before the stall had passed by more than the target is late
    assert played and min(played) >= 100 - jb.target_delay - 1, played
    assert played[-1] >= 120 and played == sorted(played)
