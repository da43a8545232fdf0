"""Speech end to end through the product path, scored with PESQ-WB against codec-alone references.

``interphone-cli talk`` (a subprocess: the real CLI, its paced talker and
encoder) → ``interphone-server`` (subprocess) → an :class:`~bench.impair.ImpairedLink`
on the listener's downlink (seeded loss and jitter) → a listener that is
``interphone-cli listen``'s code (``InterphoneClient`` + ``MixClock`` +
``TalkerStream``), in-process only so that its media can be pointed at the
proxy. The recording is scored with PESQ-WB against the spoken text, and so
are two codec-alone references with *the same* lost packets (the seqs the
listener never got): concealment only, and FEC at ``packet_loss_perc`` 10
(what the talker would send if the listeners' loss reached it; the loss
feedback over the wire is a later extension, so today the CLI talker sends
no FEC). Also reports the listener's quality line (``listen``'s JSON).
Mouth-to-ear delay is ``bench/latency.py``'s job.

    python bench/speech_e2e.py --loss 5 --jitter 20 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `app` and `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.audio.constants import DEFAULT_BITRATE
from app.audio.fec_policy import FecPolicy, LossReport, setting_for_loss
from app.audio.wavio import write_wav
from app.client import InterphoneClient
from app.headless.mix_clock import MixClock
from app.headless.talker import transmit_pcm
from bench.audio_quality import decode, encode, pesq_wb, speech
from bench.impair import ImpairedLink, Impairment
from bench.latency import GROUP, running_server

FRAME_MS = 20
TAIL_S = 0.8


def best_lag(reference: np.ndarray, signal: np.ndarray) -> int:
    """Where ``reference`` starts in ``signal`` (FFT cross-correlation)."""
    n = 1 << (len(reference) + len(signal)).bit_length()
    spectrum = np.fft.rfft(signal, n) * np.conj(np.fft.rfft(reference, n))
    corr = np.fft.irfft(spectrum, n)[: len(signal)]
    return int(np.argmax(corr))


async def talk_in_process(port: int, pcm: np.ndarray, reported_loss: float) -> None:
    """The talker's code without the CLI process, its FEC policy fed a fixed report."""
    policy = FecPolicy()
    now = asyncio.get_running_loop().time()
    policy.update(LossReport(worst_pct=reported_loss, p90_pct=reported_loss, at=now))
    talker = InterphoneClient("127.0.0.1", port, "talker", "bench", reconnect=False)
    try:
        await talker.connect()
        await talker.join(GROUP)
        await talker.talk_start()
        await transmit_pcm(talker, pcm, frame_ms=FRAME_MS, fec_policy=policy)
        await talker.talk_stop()
    finally:
        await talker.close()


async def run_once(pcm: np.ndarray, loss_pct: float, jitter_ms: float, seed: int,
                   server: str, reported_loss: float | None = None) -> dict[str, object]:
    heard: list[np.ndarray] = []
    received: set[int] = set()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "talk.wav"
        write_wav(wav, pcm)
        async with running_server(server) as port, contextlib.AsyncExitStack() as stack:
            link = await stack.enter_async_context(ImpairedLink(
                ("127.0.0.1", port),
                downlink=Impairment(loss_pct / 100, jitter_ms / 1000), seed=seed))
            listener = InterphoneClient("127.0.0.1", port, "listener", "bench",
                                        reconnect=False, media_addr=link.front)
            stack.push_async_callback(listener.close)
            clock = MixClock(heard.append, FRAME_MS)

            def on_audio(uid: str, seq: int, payload: bytes) -> None:
                received.add(seq)
                clock.on_audio(uid, seq, payload)

            listener.on_audio = on_audio
            await listener.connect()
            await listener.join(GROUP)
            mixing = asyncio.get_running_loop().create_task(clock.run(None))
            stack.callback(mixing.cancel)
            if reported_loss is not None:
                await talk_in_process(port, pcm, reported_loss)
            else:
                talk = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "app.cli", "--server", f"127.0.0.1:{port}",
                    "--uid", "talker", "--token", "bench", "--frame-ms", str(FRAME_MS),
                    "talk", str(GROUP), "--wav", str(wav),
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                _, err = await talk.communicate()
                if talk.returncode != 0:
                    raise RuntimeError(f"interphone-cli talk failed: {err.decode()[-500:]}")
            await asyncio.sleep(TAIL_S)
            summary = clock.speaker_summary().get("talker", {})
            link_loss = link.down_stats.loss_pct
    recording = np.concatenate(heard) if heard else np.zeros(0, np.float32)
    packets, lookahead = encode(pcm, 0, DEFAULT_BITRATE)
    lost = set(range(len(packets))) - received
    lag = best_lag(pcm, recording)
    e2e = pesq_wb(pcm, recording[lag:], 0)
    plc = pesq_wb(pcm, decode(packets, lost, use_fec=False), lookahead)
    fec_packets, _ = encode(pcm, 10, DEFAULT_BITRATE)
    fec = pesq_wb(pcm, decode(fec_packets, lost, use_fec=True), lookahead)
    extra: dict[str, object] = {}
    if reported_loss is not None:
        setting = setting_for_loss(reported_loss)
        policy_packets, _ = encode(pcm, setting.packet_loss_perc, setting.bitrate)
        policy_ref = pesq_wb(pcm, decode(policy_packets, lost, use_fec=True), lookahead)
        extra = {"pesq_codec_policy": round(policy_ref, 3),
                 "e2e_over_policy_ref": round(e2e / policy_ref, 3),
                 "policy": f"{setting.packet_loss_perc}@{setting.bitrate}"}
    return {
        "talker": "cli" if reported_loss is None
        else f"in-process, FEC policy fed a fixed {reported_loss:g} % report",
        "loss_pct": loss_pct, "jitter_ms": jitter_ms, "seed": seed,
        "link_loss_pct": round(link_loss, 2),
        "lost_packets": len(lost), "packets": len(packets),
        "pesq_e2e": round(e2e, 3),
        "pesq_codec_plc_only": round(plc, 3),
        "pesq_codec_fec10": round(fec, 3),
        "e2e_over_fec_ref": round(e2e / fec, 3),
        "e2e_over_plc_ref": round(e2e / plc, 3),
        **extra,
        "listener": summary,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", type=float, default=0.0, metavar="PCT")
    parser.add_argument("--jitter", type=float, default=0.0, metavar="MS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--lang", choices=("en", "zh"), default="en")
    parser.add_argument("--in-process", action="store_true", help="in-process server")
    parser.add_argument("--assume-reported-loss", type=float, default=None, metavar="PCT",
                        help="what-if: talk in-process with the FEC policy fed this listener "
                             "loss (the feedback extension does not exist yet)")
    args = parser.parse_args(argv)
    pcm = speech(args.lang)
    for run in range(args.runs):
        result = asyncio.run(run_once(pcm, args.loss, args.jitter, args.seed + run,
                                      "inprocess" if args.in_process else "subprocess",
                                      args.assume_reported_loss))
        result["lang"] = args.lang
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
