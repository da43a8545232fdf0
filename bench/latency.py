"""Mouth-to-ear latency of the live audio path, click in → click out.

Two clients (``InterphoneClient`` + ``AudioEngine`` on a ``ClockedBackend``
each) talk through the server on 127.0.0.1 — by default a separate
``python -m app.server`` process, so the relay competes for the CPU like a
real one. The talker holds the floor and transmits continuously; its
microphone hears a quiet steady tone (so that gaps in the listener's output
can be told from intended silence) with short chirps ("clicks") at known
input sample indices. Each click is located in the listener's collected
playback by normalised cross-correlation with the chirp, and

    mouth-to-ear = output_sample_time(onset) − input_sample_time(click)

using ClockedBackend's timing model: an input sample is captured at
``t0 + i / 48000`` and an output sample plays one output block after the
callback that wrote it. Nothing else of a sound card (converter and driver
buffers, which a real device adds on top) is counted.

With ``--loss``/``--jitter`` both clients' media go through an
:class:`~bench.impair.ImpairedLink` (the client's ``media_addr`` points at
the proxy). By default only the listener's downlink is impaired, so the
talker→listener path sees exactly the given loss and jitter. The talker's
expected loss (in-band FEC) follows the loss the listener measures, every
half second, as the app's feedback would.

``--encrypted``: the signaling is TLS (a self-signed certificate made in a temporary
folder, pinned by the clients) and the directory says ``media_encryption =
"required"``, so both clients negotiate media-auth and the voice is AES-GCM sealed
(docs/protocol-extensions.md). ``--compare-encryption`` alternates plain and encrypted
runs on the same machine (the load falls on both alike) and prints one line with
``m2e_p50_ms_plain``, ``m2e_p50_ms_encrypted`` (the medians of the runs' p50s),
``encrypted_m2e_delta_ms`` (the median of the pairs' p50 differences, a pair sharing
the capture phase below; target: within 1 ms), and ``tls_login_p95_ms``: the real
client's ``connect()`` over TLS (TCP, handshake, login, roster sync) to the encrypted
server, ``--logins`` times (target: 20 ms at p95 on loopback), with
``plain_login_p95_ms`` beside it.

``--on-demand``: the listener's engine is the desktop app's (``on_demand=True``): its
output stream starts with the talker's first packet, at a phase set by that packet (the
engine starts it a start margin after the packet), so no capture phase is chosen.

The capture clock's phase: the listener plays in 10 ms output blocks
(``OUTPUT_BLOCK_MS``), so each run's latency is fixed by where the talker's
20 ms capture blocks fall between the listener's output ticks: measured,
``p50 = C − phase`` (mod one output block, a 10 ms spread). Left to chance that
phase is set by how long the talker's setup took after the listener's device
started (TCP or TLS connect, login, join), which differs systematically between
plain and encrypted runs and so biased ``--compare-encryption`` by ±2.5 ms
(bench/NOTES.md, m2e6). So the talker's sound card starts at a chosen phase
(``capture_phase``: a fraction of the output block, drawn from ``--seed``; the
two runs of a ``--compare-encryption`` pair share it, and the pairs spread it
evenly over the block); ``capture_phase_ms`` reports the phase achieved.

Prints one JSON object per run::

    python -m bench.latency --quick
    python -m bench.latency --quick --on-demand  # the listener's output as the app's
    python -m bench.latency --loss 5 --jitter 20 --clicks 200
    python -m bench.latency --compare-encryption --runs 3 --clicks 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make `app` and `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.audio.clocked import ClockedBackend
from app.audio.codec import OpusEncoder
from app.audio.constants import ALLOWED_FRAME_MS, DEFAULT_FRAME_MS, SAMPLE_RATE
from app.audio.pipeline import OUTPUT_BLOCK_MS, AudioEngine
from app.client import InterphoneClient
from app.client.client import FEEDBACK
from app.client.feedback import QualityReporter
from app.client.trust import TrustPolicy, client_context
from app.protocol.features import MEDIA_AUTH
from app.server.tls import TlsOptions, fingerprint_of_file, load_server_context
from bench.impair import ImpairedLink, Impairment

GROUP = "group_1"  # the demo directory's "Everyone" group
CLICK_MS = 8.0
CLICK_LEVEL = 0.5
BED_HZ = 220.0  # the steady tone under the clicks
BED_LEVEL = 0.08
LEAD_IN_S = 0.6  # bed only, before the first click: the jitter buffer settles
TAIL_S = 0.5
MIN_CORRELATION = 0.5  # below this a click counts as not found
SILENCE_LEVEL = 0.01  # a 1 ms block whose peak is under this is silent (bed ≈ 0.08)
_SERVING = re.compile(r"serving on \S+ port (\d+)")


@dataclass(frozen=True, slots=True)
class LatencyConfig:
    frame_ms: int = DEFAULT_FRAME_MS
    clicks: int = 100
    spacing_s: float = 0.3  # between clicks; longer than any expected latency
    loss_pct: float = 0.0
    jitter_ms: float = 0.0
    impair: str = "listener"  # listener (downlink), talker (uplink) or both
    server: str = "subprocess"  # or "inprocess"
    seed: int = 1
    pesq: bool = False  # after the clicks, speech scored with PESQ-WB
    encrypted: bool = False  # TLS + media_encryption = "required" (sealed voice)
    on_demand: bool = False
    """The listener's engine on demand, as the desktop app's: its output starts with the
    first packet (its phase then follows the packet clock), not at the engine's start."""
    capture_phase: float | None = None
    """Where the talker's capture clock starts within the listener's output block, as a
    fraction in [0, 1); None: drawn from ``seed``."""

    def __post_init__(self) -> None:
        if self.frame_ms not in ALLOWED_FRAME_MS:
            raise ValueError(f"frame must be one of {ALLOWED_FRAME_MS} ms")
        if self.clicks < 1:
            raise ValueError("need at least one click")
        if self.impair not in ("listener", "talker", "both"):
            raise ValueError("impair must be listener, talker or both")
        if self.server not in ("subprocess", "inprocess"):
            raise ValueError("server must be subprocess or inprocess")
        if self.capture_phase is not None and not 0 <= self.capture_phase < 1:
            raise ValueError("capture_phase must be in [0, 1)")

    @property
    def phase_fraction(self) -> float:
        """:attr:`capture_phase`, or one drawn from the seed (not from the signal's draws)."""
        if self.capture_phase is not None:
            return self.capture_phase
        return float(np.random.default_rng([self.seed, 7]).random())

    @property
    def output_block_s(self) -> float:
        """The listener's output block (the playout tick), seconds."""
        return min(OUTPUT_BLOCK_MS, self.frame_ms) / 1000.0

    @property
    def impaired(self) -> bool:
        return self.loss_pct > 0 or self.jitter_ms > 0


def chirp(ms: float = CLICK_MS, level: float = CLICK_LEVEL) -> np.ndarray:
    """A Hann-windowed 600 → 3000 Hz sweep: sharp autocorrelation, codes well."""
    n = round(ms * SAMPLE_RATE / 1000)
    t = np.arange(n) / SAMPLE_RATE
    f0, f1 = 600.0, 3000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1]))
    return (level * np.hanning(n) * np.sin(phase)).astype(np.float32)


def talker_signal(config: LatencyConfig, rng: np.random.Generator
                  ) -> tuple[np.ndarray, list[int]]:
    """The bed tone with chirps; returns it and the chirps' sample offsets.

    Offsets are jittered within a frame so the clicks fall at every phase of
    the capture blocks.
    """
    spacing = round(config.spacing_s * SAMPLE_RATE)
    lead = round(LEAD_IN_S * SAMPLE_RATE)
    frame = SAMPLE_RATE * config.frame_ms // 1000
    offsets = [lead + k * spacing + int(rng.integers(0, frame)) for k in range(config.clicks)]
    total = lead + config.clicks * spacing + frame
    t = np.arange(total) / SAMPLE_RATE
    signal = (BED_LEVEL * np.sin(2 * np.pi * BED_HZ * t)).astype(np.float32)
    click = chirp()
    for offset in offsets:
        signal[offset:offset + len(click)] += click
    return signal, offsets


def find_click(played: np.ndarray, template: np.ndarray) -> tuple[int, float] | None:
    """Index in ``played`` where ``template`` matches best, and the normalised correlation."""
    n = len(template)
    if len(played) < n:
        return None
    corr = np.correlate(played.astype(np.float64), template.astype(np.float64), "valid")
    energy = np.cumsum(np.concatenate(([0.0], played.astype(np.float64) ** 2)))
    local = np.sqrt(np.maximum(energy[n:] - energy[:-n], 1e-12))
    ncc = corr / (local * np.linalg.norm(template))
    best = int(np.argmax(ncc))
    return best, float(ncc[best])


def longest_silence_ms(played: np.ndarray, frame_ms: int) -> tuple[float, int]:
    """Longest silent run inside the talkspurt (first to last sound), and runs > a frame."""
    block = SAMPLE_RATE // 1000
    usable = len(played) // block * block
    peaks = np.abs(played[:usable]).reshape(-1, block).max(axis=1)
    loud = np.flatnonzero(peaks >= SILENCE_LEVEL)
    if len(loud) < 2:
        return 0.0, 0
    silent = peaks[loud[0]:loud[-1] + 1] < SILENCE_LEVEL
    longest = run = gaps = 0
    for quiet in silent:
        run = run + 1 if quiet else 0
        if run == frame_ms + 1:
            gaps += 1
        longest = max(longest, run)
    return float(longest), gaps


def phase_delay(now: float, tick: float, period: float, phase: float,
                minimum: float = 0.002) -> float:
    """Seconds from ``now`` to the next instant ``phase`` seconds after a tick of a clock
    that ticked at ``tick`` and every ``period`` since, at least ``minimum`` away."""
    delay = (tick + phase - now) % period
    while delay < minimum:
        delay += period
    return delay


async def start_at_phase(start: Any, tick: float, period: float, phase: float) -> None:
    """Call ``start()`` ``phase`` seconds after a tick of the clock (``tick``, ``period``):
    a loop sleep close to it, then a short spin (a loop timer is ~1 ms coarse)."""
    target = time.monotonic() + phase_delay(time.monotonic(), tick, period, phase)
    await asyncio.sleep(max(0.0, target - time.monotonic() - 0.0015))
    while time.monotonic() < target:
        pass
    start()


PHASE_TOLERANCE_S = 0.0002
"""How far the talker's capture clock may start from the asked phase."""
PHASE_ATTEMPTS = 6


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else math.nan


# --------------------------------------------------------------------- server
ENCRYPTED_TOML = """[server]
auth = "open"
media_encryption = "required"
[[groups]]
id = "1"
name = "Everyone"
members = ["*"]
"""


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    """How the clients reach an encrypted server: its certificate's fingerprint to pin."""

    fingerprint: str

    def client_options(self) -> dict[str, Any]:
        """``InterphoneClient`` keyword arguments: TLS pinned to the server, media-auth."""
        return {"ssl": client_context(TrustPolicy(pin=self.fingerprint)),
                "features": (FEEDBACK, MEDIA_AUTH)}


@contextlib.asynccontextmanager
async def running_server(kind: str) -> AsyncIterator[int]:
    """Yields the port of a demo-directory server (subprocess or in-process)."""
    if kind == "inprocess":
        from app.server import Directory, InterphoneServer

        server = InterphoneServer(Directory.demo(), host="127.0.0.1", port=0)
        await server.start()
        try:
            yield server.port
        finally:
            await server.stop()
        return
    async with _server_process([]) as port:
        yield port


@contextlib.asynccontextmanager
async def encrypted_server(kind: str) -> AsyncIterator[tuple[int, ServerSecurity]]:
    """A server with TLS (self-signed, in a temporary folder) whose directory requires
    media-auth (:data:`ENCRYPTED_TOML`); yields its port and what a client pins."""
    with tempfile.TemporaryDirectory() as folder:
        tls_dir = Path(folder) / "tls"
        config = Path(folder) / "directory.toml"
        config.write_text(ENCRYPTED_TOML)
        if kind == "inprocess":
            from app.server import InterphoneServer
            from app.server.directory import Directory

            context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tls_dir))
            server = InterphoneServer(Directory.from_toml_file(config), host="127.0.0.1",
                                      port=0,
                                      tls=context)
            await server.start()
            try:
                yield server.port, ServerSecurity(fingerprint)
            finally:
                await server.stop()
            return
        async with _server_process(["--config", str(config), "--tls-self-signed",
                                    str(tls_dir)]) as port:
            yield port, ServerSecurity(fingerprint_of_file(tls_dir / "server.crt"))


@contextlib.asynccontextmanager
async def serving(config: LatencyConfig
                  ) -> AsyncIterator[tuple[int, ServerSecurity | None]]:
    """The server ``config`` asks for: plain (demo directory) or encrypted."""
    if config.encrypted:
        async with encrypted_server(config.server) as served:
            yield served
        return
    async with running_server(config.server) as port:
        yield port, None


@contextlib.asynccontextmanager
async def _server_process(options: list[str]) -> AsyncIterator[int]:
    """``python -m app.server --port 0 OPTIONS``; yields the port it serves on."""
    root = Path(__file__).resolve().parent.parent
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.server", "--port", "0", "--log-level", "INFO", *options,
        cwd=root, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    drain: asyncio.Task[None] | None = None
    try:
        port = None
        async with asyncio.timeout(15):
            while port is None:
                line = (await proc.stderr.readline()).decode(errors="replace")
                if not line:
                    raise RuntimeError("the server exited before listening")
                match = _SERVING.search(line)
                if match:
                    port = int(match.group(1))
        drain = asyncio.get_running_loop().create_task(_drain(proc.stderr))
        yield port
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if drain is not None:
            drain.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


# ---------------------------------------------------------------- measurement
class _Peer:
    """One client with its engine on a clocked device."""

    def __init__(self, uid: str, port: int, config: LatencyConfig,
                 media_addr: tuple[str, int] | None,
                 security: ServerSecurity | None = None) -> None:
        self._collect_output = uid == "listener"
        self.on_demand = config.on_demand and uid == "listener"
        self.device = ClockedBackend(collect_output=self._collect_output)
        options: dict[str, Any] = (security.client_options() if security
                                   else {"features": (FEEDBACK,)})
        self.client = InterphoneClient("127.0.0.1", port, uid, "bench", reconnect=False,
                                       media_addr=media_addr, **options)
        self.engine: AudioEngine | None = None
        self.frame_ms = config.frame_ms
        self.sent_at: list[float] = []
        """perf_counter() when each packet of the grant was handed to the client (seq = index)."""
        self.received_at: dict[int, float] = {}
        """perf_counter() when the media thread gave each seq to the mixer."""

    def _send(self, payload: bytes) -> bool:
        at = time.perf_counter()
        sent = self.client.send_audio(payload)
        if sent:
            self.sent_at.append(at)
        return sent

    def _make_engine(self) -> AudioEngine:
        engine = AudioEngine(self.device, self.frame_ms, send_frame=self._send,
                             loop=asyncio.get_running_loop(), on_demand=self.on_demand)
        self.engine = engine
        received = self.received_at

        # as the desktop app does: the media receive thread feeds the mixer directly
        def sink(_interphone: object, uid: str, seq: int, payload: bytes) -> None:
            received.setdefault(seq, time.perf_counter())
            engine.receive_from_thread(uid, seq, payload)

        self.client.set_audio_sink(sink)
        # As the GUI's presenter: what our listeners lose sets our FEC (feedback extension).
        self.client.on_feedback = lambda notice: engine.report_listener_loss(
            notice.worst_pct, notice.p90_pct)
        return engine

    async def start(self, align: tuple[float, float, float] | None = None) -> AudioEngine:
        """Connect, join, start the engine; ``align`` = (tick, period, phase): start the
        capture clock ``phase`` seconds after a tick of that clock (see
        :func:`phase_delay`), within :data:`PHASE_TOLERANCE_S`: a start that missed (the
        threads start late on a loaded machine) is undone, on a fresh sound card, with
        the lag it showed taken off the next try."""
        engine = self._make_engine()
        await self.client.connect()
        await self.client.join(GROUP)
        if align is None:
            engine.start()
            return engine
        tick, period, phase = align
        lag = 0.0
        for attempt in range(PHASE_ATTEMPTS):
            await start_at_phase(engine.start, tick, period, (phase - lag) % period)
            error = (self.device.input_sample_time(0) - tick - phase) % period
            error = error - period if error > period / 2 else error
            if abs(error) <= PHASE_TOLERANCE_S or attempt == PHASE_ATTEMPTS - 1:
                break
            lag += error
            engine.close()
            self.device.close()
            self.device = ClockedBackend(collect_output=self._collect_output)
            engine = self._make_engine()
        return engine

    async def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        await self.client.close()
        self.device.close()


def _link(port: int, config: LatencyConfig, side: str, seed: int) -> ImpairedLink:
    hit = config.impair in (side, "both")
    impairment = Impairment(config.loss_pct / 100, config.jitter_ms / 1000) if hit \
        else Impairment()
    if side == "listener":
        return ImpairedLink(("127.0.0.1", port), downlink=impairment, seed=seed)
    return ImpairedLink(("127.0.0.1", port), uplink=impairment, seed=seed)


async def measure(config: LatencyConfig) -> dict[str, object]:
    """One run: returns the JSON-able result (see the module docstring)."""
    rng = np.random.default_rng(config.seed)
    signal, offsets = talker_signal(config, rng)
    speech_pcm = _speech() if config.pesq else None
    speech_at = len(signal) + round(SPEECH_GAP_S * SAMPLE_RATE)
    if speech_pcm is not None:
        signal = np.concatenate([signal, np.zeros(speech_at - len(signal), np.float32),
                                 speech_pcm])
    async with serving(config) as (port, security), contextlib.AsyncExitStack() as stack:
        links: dict[str, ImpairedLink | None] = {"talker": None, "listener": None}
        if config.impaired:
            for n, side in enumerate(links):
                links[side] = await stack.enter_async_context(
                    _link(port, config, side, config.seed * 10 + n))
        listener = _Peer("listener", port, config,
                         links["listener"].front if links["listener"] else None, security)
        talker = _Peer("talker", port, config,
                       links["talker"].front if links["talker"] else None, security)
        stack.push_async_callback(listener.close)
        stack.push_async_callback(talker.close)
        listener_engine = await listener.start()
        period = config.output_block_s
        if config.on_demand:  # the listener's output starts with the first packet
            talker_engine = await talker.start()
        else:
            talker_engine = await talker.start(
                (listener.device.output_sample_time(0), period,
                 config.phase_fraction * period))
        reporter = QualityReporter(listener.client, listener_engine.receive_quality)
        reporting = asyncio.ensure_future(reporter.run())
        stack.callback(reporting.cancel)
        if not await talker.client.talk_start():
            raise RuntimeError("the talker did not get the floor")
        talker_engine.start_transmit()
        start_index = talker.device.set_source(signal)
        await asyncio.sleep(len(signal) / SAMPLE_RATE + TAIL_S)
        stats = listener_engine.receive_quality().get("talker")
        counters = (talker_engine.counters, listener_engine.counters)
        talker_engine.stop_transmit(0)
        encrypted = MEDIA_AUTH in talker.client.features and MEDIA_AUTH in \
            listener.client.features
        await talker.client.talk_stop()
        reports = reporter.reports_sent
        expected_loss = talker_engine.expected_loss
        played = listener.device.collected_output()
        played_offset = listener.device.collected_offset
        t_in = [talker.device.input_sample_time(start_index + o) for o in offsets]
        out_t0 = listener.device.output_sample_time(0)
        capture_phase = (talker.device.input_sample_time(0) - out_t0) % period
        output_starts = listener_engine.output_starts
        link_stats = {side: link for side, link in links.items() if link is not None}
        transit = [(listener.received_at[seq] - at) * 1e6
                   for seq, at in enumerate(talker.sent_at) if seq in listener.received_at]

    template = chirp()
    window = round(config.spacing_s * 0.9 * SAMPLE_RATE)
    latencies: list[float] = []
    for t in t_in:
        first = max(0, round((t - out_t0) * SAMPLE_RATE) - played_offset)
        found = find_click(played[first:first + window], template)
        if found is None or found[1] < MIN_CORRELATION:
            continue
        onset = played_offset + first + found[0]
        latencies.append((out_t0 + onset / SAMPLE_RATE - t) * 1000.0)
    clicks_end = len(played)  # gaps are counted over the clicks' part only
    if speech_pcm is not None:
        clicks_end = max(0, round((talker.device.input_sample_time(start_index + speech_at)
                                   - out_t0) * SAMPLE_RATE) - played_offset)
    gap_ms, gaps = longest_silence_ms(played[:clicks_end], config.frame_ms)
    lookahead = _lookahead_ms(config.frame_ms)
    result: dict[str, object] = {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "max_ms": round(max(latencies), 2) if latencies else math.nan,
        "min_ms": round(min(latencies), 2) if latencies else math.nan,
        "frame_ms": config.frame_ms,
        "loss_pct": config.loss_pct,
        "jitter_ms": config.jitter_ms,
        "floor_ms": round(2 * config.frame_ms + lookahead, 2),
        "longest_gap_ms": gap_ms,
        "gaps_over_frame": gaps,
        "clicks": config.clicks,
        "clicks_found": len(latencies),
        "server": config.server,
        "impair": config.impair if config.impaired else "none",
        "encrypted": encrypted,
        "transit_p50_us": round(percentile(transit, 50), 1),
        "transit_p95_us": round(percentile(transit, 95), 1),
        "first_transit_us": round(transit[0], 1) if transit else math.nan,
        "capture_phase_ms": round(capture_phase * 1000, 3),
        "output_block_ms": round(period * 1000),
    }
    if config.on_demand:
        result["listener_on_demand"] = True
        result["output_starts"] = output_starts
    if stats is not None:
        result.update(
            packets_received=stats.packets,
            packets_lost=stats.lost,
            late=stats.late,
            fec_recovered=stats.fec_recovered,
            concealed=stats.concealed,
            stalls=stats.stalls,
            faded=stats.faded,
            dropped_to_catch_up=stats.dropped,
            jitter_target_ms=stats.target_delay_ms,
            measured_jitter_ms=round(stats.jitter_ms, 2),
        )
    for side, link in link_stats.items():
        direction = link.down_stats if side == "listener" else link.up_stats
        result[f"{side}_link_loss_pct"] = round(direction.loss_pct, 2)
    result["reports_sent"] = reports
    result["talker_expected_loss"] = expected_loss
    if speech_pcm is not None:
        result.update(_score_speech(speech_pcm, played, played_offset,
                                    talker.device.input_sample_time(start_index + speech_at)
                                    - out_t0))
    result["xruns"] = sum(c.input_overruns + c.output_underruns for c in counters)
    result["capture_drops"] = counters[0].capture_drops
    return result


SPEECH_GAP_S = 1.0  # silence between the clicks and the speech


def _speech() -> np.ndarray:
    from bench.audio_quality import speech

    return speech("en")


def _score_speech(speech: np.ndarray, played: np.ndarray, played_offset: int,
                  t_speech: float) -> dict[str, object]:
    """PESQ-WB of the listener's playback of ``speech`` (which started at output time
    ``t_speech`` after the listener's first output sample, plus the path's delay)."""
    from bench.audio_quality import decode, encode, pesq_wb

    first = max(0, round(t_speech * SAMPLE_RATE) - played_offset)
    window = played[first:first + len(speech) + SAMPLE_RATE]
    if len(window) < len(speech) or float(np.max(np.abs(window))) < SILENCE_LEVEL:
        # e.g. the floor ran out (max_talk, 60 s in the demo directory): fewer clicks
        return {"pesq_e2e": None, "pesq_error": "speech not heard (floor lost?)"}
    n = 1 << (len(speech) + len(window)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(window, n) * np.conj(np.fft.rfft(speech, n)), n)
    lag = int(np.argmax(corr[: len(window)]))
    e2e = pesq_wb(speech, window[lag:], 0)
    packets, lookahead = encode(speech, 0, 24000)
    ceiling = pesq_wb(speech, decode(packets, set(), use_fec=False), lookahead)
    return {"pesq_e2e": round(e2e, 3), "pesq_codec_ceiling": round(ceiling, 3),
            "e2e_over_ceiling": round(e2e / ceiling, 3)}


def _lookahead_ms(frame_ms: int) -> float:
    with OpusEncoder(frame_ms) as encoder:
        return encoder.lookahead_samples * 1000.0 / SAMPLE_RATE


# ------------------------------------------------------------------------ CLI
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (25 clicks, in-process checks stay the same)")
    parser.add_argument("--clicks", type=int, default=None, help="clicks per run (default 100)")
    parser.add_argument("--frame-ms", type=int, default=DEFAULT_FRAME_MS,
                        choices=ALLOWED_FRAME_MS)
    parser.add_argument("--loss", type=float, default=0.0, metavar="PCT",
                        help="random packet loss on the impaired link, percent")
    parser.add_argument("--jitter", type=float, default=0.0, metavar="MS",
                        help="random extra delay 0..MS per packet on the impaired link")
    parser.add_argument("--impair", choices=("listener", "talker", "both"),
                        default="listener",
                        help="which client's link is impaired (default: the listener's "
                             "downlink, so the path sees exactly --loss and --jitter)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the server on the benchmark's own loop")
    parser.add_argument("--runs", type=int, default=1, help="repeat, one JSON line each")
    parser.add_argument("--encrypted", action="store_true",
                        help='TLS and media_encryption = "required": sealed voice')
    parser.add_argument("--compare-encryption", action="store_true",
                        help="alternate --runs plain and encrypted runs, then one line "
                             "comparing them (and the TLS login time)")
    parser.add_argument("--logins", type=int, default=50,
                        help="with --compare-encryption: logins timed per kind (default 50)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--on-demand", action="store_true",
                        help="the listener's engine on demand, as the app's: its output "
                             "starts with the first packet")
    parser.add_argument("--pesq", action=argparse.BooleanOptionalAction, default=None,
                        help="after the clicks, score ~15 s of speech with PESQ-WB (default: "
                             "on for loss/jitter runs when the pesq package is installed)")
    args = parser.parse_args(argv)
    if not 0 <= args.loss < 100:
        parser.error("--loss must be in [0, 100)")
    if args.jitter < 0:
        parser.error("--jitter must be >= 0")
    return args


def _want_pesq(args: argparse.Namespace) -> bool:
    if args.pesq is not None:
        return bool(args.pesq)
    if not (args.loss or args.jitter):
        return False
    try:
        import pesq  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clicks = args.clicks if args.clicks is not None else (25 if args.quick else 100)
    if args.compare_encryption:
        from bench.latency_compare import compare_encryption

        started = time.monotonic()
        result = compare_encryption(args, clicks)
        result["run_s"] = round(time.monotonic() - started, 1)
        print(json.dumps(result), flush=True)
        return 0
    for run in range(args.runs):
        config = LatencyConfig(
            frame_ms=args.frame_ms, clicks=clicks, loss_pct=args.loss, jitter_ms=args.jitter,
            impair=args.impair, server="inprocess" if args.in_process else "subprocess",
            seed=args.seed + run, pesq=_want_pesq(args), encrypted=args.encrypted,
            on_demand=args.on_demand)
        started = time.monotonic()
        result = asyncio.run(measure(config))
        result["run_s"] = round(time.monotonic() - started, 1)
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
