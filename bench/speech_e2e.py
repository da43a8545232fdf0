"""Speech end to end through the product path, scored with PESQ-WB against codec-alone references.

Three processes, as a user would run them: ``interphone-server``,
``interphone-cli listen`` and ``interphone-cli talk``. The listener's UDP media
goes through an :class:`~bench.impair.ImpairedLink` run by this script
(``listen --media-via``): seeded loss and jitter on the listener's downlink
only. Listener and talker ask for the ``feedback`` extension (their default):
the listener reports its loss each second on its signaling connection, the
server tells the talker, the talker's FEC policy follows. No in-process
shortcut (``--no-feedback`` runs both without it, for comparison).

The recording is scored with PESQ-WB against the spoken text, and so are
codec-alone references with *the same* lost packets (the seqs the proxy
dropped): concealment only, FEC at ``packet_loss_perc`` 10 @ 24 kbit/s (the
issue's reference) and the policy's own setting (10 @ 40 kbit/s). From the
proxy's trace: when the first packet was lost and when the talker's first
packet carrying FEC (LBRR) went by (the reaction time). Also the listener's
quality line (``listen``'s JSON on stderr). Mouth-to-ear delay is
``bench/latency.py``'s job. Needs ``espeak-ng`` on PATH and ``pip install pesq`` (as
``bench/audio_quality.py`` does).

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

from app.audio.codec import packet_has_lbrr
from app.audio.constants import DEFAULT_BITRATE, SAMPLE_RATE
from app.audio.fec_policy import FEC_PERC, setting_for_loss
from app.audio.wavio import read_wav, write_wav
from app.protocol import AudioPacket, PacketError, parse_packet
from bench.audio_quality import decode, encode, missing_tools, pesq_wb, speech
from bench.impair import ImpairedLink, Impairment
from bench.latency import GROUP, running_server

FRAME_MS = 20
TAIL_S = 0.8
ROOT = Path(__file__).resolve().parent.parent


def best_lag(reference: np.ndarray, signal: np.ndarray) -> int:
    """Where ``reference`` starts in ``signal`` (FFT cross-correlation)."""
    n = 1 << (len(reference) + len(signal)).bit_length()
    spectrum = np.fft.rfft(signal, n) * np.conj(np.fft.rfft(reference, n))
    corr = np.fft.irfft(spectrum, n)[: len(signal)]
    return int(np.argmax(corr))


def cli(port: int, uid: str, *args: str, feedback: bool = True) -> list[str]:
    return [sys.executable, "-m", "app.cli", "--server", f"127.0.0.1:{port}", "--uid", uid,
            "--token", "bench", "--frame-ms", str(FRAME_MS),
            *([] if feedback else ["--no-feedback"]), *args]


def trace_figures(trace: list[tuple[float, bytes, bool]]) -> dict[str, object]:
    """Audio packets the proxy saw going to the listener: lost seqs, FEC, reaction time."""
    lost: set[int] = set()
    first_loss = first_fec = None
    fec = total = 0
    for at, data, passed in trace:
        try:
            packet = parse_packet(data)
        except PacketError:
            continue
        if not isinstance(packet, AudioPacket):
            continue
        total += 1
        has_fec = packet_has_lbrr(packet.frame)
        fec += has_fec
        if not passed:
            lost.add(packet.seq)
            first_loss = at if first_loss is None else first_loss
        if has_fec and first_fec is None:
            first_fec = at
    reaction = None if first_loss is None or first_fec is None else first_fec - first_loss
    return {"lost": lost, "sent": total, "fec_share": round(fec / total, 3) if total else 0.0,
            "fec_reaction_s": None if reaction is None else round(reaction, 2)}


async def read_lines(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode(errors="replace").rstrip())


async def run_once(pcm: np.ndarray, loss_pct: float, jitter_ms: float, seed: int,
                   server: str, feedback: bool = True) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        talk_wav, heard_wav = Path(tmp) / "talk.wav", Path(tmp) / "heard.wav"
        write_wav(talk_wav, pcm)
        listen_s = len(pcm) / SAMPLE_RATE + 5.0
        async with running_server(server) as port, contextlib.AsyncExitStack() as stack:
            link = await stack.enter_async_context(ImpairedLink(
                ("127.0.0.1", port),
                downlink=Impairment(loss_pct / 100, jitter_ms / 1000), seed=seed))
            link.downlink_trace = []
            front = f"{link.front[0]}:{link.front[1]}"
            listen = await asyncio.create_subprocess_exec(
                *cli(port, "listener", "--media-via", front, "listen", str(GROUP),
                     "--wav", str(heard_wav), "--seconds", f"{listen_s:.1f}",
                     feedback=feedback),
                cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            stack.callback(lambda: listen.returncode is None and listen.kill())
            assert listen.stderr is not None
            listen_err: list[str] = []
            async with asyncio.timeout(20):
                while not any(line.startswith("listening to") for line in listen_err):
                    line = await listen.stderr.readline()
                    if not line:
                        raise RuntimeError(f"listen failed: {listen_err[-5:]}")
                    listen_err.append(line.decode(errors="replace").rstrip())
            reader = asyncio.ensure_future(read_lines(listen.stderr, listen_err))
            talk = await asyncio.create_subprocess_exec(
                *cli(port, "talker", "talk", str(GROUP), "--wav", str(talk_wav),
                     feedback=feedback),
                cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await talk.communicate()
            if talk.returncode != 0:
                raise RuntimeError(f"interphone-cli talk failed: {err.decode()[-500:]}")
            async with asyncio.timeout(listen_s + 20):
                await listen.wait()
                await reader
            trace = list(link.downlink_trace)
            link_loss = link.down_stats.loss_pct
        recording = read_wav(heard_wav)
    quality: dict[str, object] = {}
    for line in listen_err:
        if line.startswith('{"quality"'):
            quality = json.loads(line)["quality"].get("talker", {})
    figures = trace_figures(trace)
    lost: set[int] = figures.pop("lost")  # type: ignore[assignment]
    packets, lookahead = encode(pcm, 0, DEFAULT_BITRATE)
    lag = best_lag(pcm, recording)
    e2e = pesq_wb(pcm, recording[lag:], 0)
    plc = pesq_wb(pcm, decode(packets, lost, use_fec=False), lookahead)
    fec_packets, _ = encode(pcm, FEC_PERC, DEFAULT_BITRATE)
    fec = pesq_wb(pcm, decode(fec_packets, lost, use_fec=True), lookahead)
    setting = setting_for_loss(100.0)
    policy_packets, _ = encode(pcm, setting.packet_loss_perc, setting.bitrate)
    policy_ref = pesq_wb(pcm, decode(policy_packets, lost, use_fec=True), lookahead)
    ceiling = plc if not lost else pesq_wb(pcm, decode(packets, set(), use_fec=False),
                                           lookahead)
    return {
        "path": "cli listen + cli talk + server, 3 processes",
        "feedback": feedback,
        "loss_pct": loss_pct, "jitter_ms": jitter_ms, "seed": seed,
        "link_loss_pct": round(link_loss, 2),
        "lost_packets": len(lost), "packets": len(packets), **figures,
        "pesq_e2e": round(e2e, 3),
        "pesq_codec_ceiling": round(ceiling, 3),
        "pesq_codec_plc_only": round(plc, 3),
        "pesq_codec_fec10": round(fec, 3),
        "pesq_codec_policy": round(policy_ref, 3),
        "e2e_over_ceiling": round(e2e / ceiling, 3),
        "e2e_over_fec_ref": round(e2e / fec, 3),
        "e2e_over_plc_ref": round(e2e / plc, 3),
        "e2e_over_policy_ref": round(e2e / policy_ref, 3),
        "listener": quality,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", type=float, default=0.0, metavar="PCT")
    parser.add_argument("--jitter", type=float, default=0.0, metavar="MS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--lang", choices=("en", "zh"), default="en")
    parser.add_argument("--in-process", action="store_true",
                        help="in-process server (the clients stay processes)")
    parser.add_argument("--no-feedback", action="store_true",
                        help="talker and listener without the feedback extension")
    parser.add_argument("--seconds", type=float, metavar="S",
                        help="only the first S seconds of the speech (a shorter run)")
    args = parser.parse_args(argv)
    if why := missing_tools():
        sys.exit(f"speech_e2e: {why}")
    pcm = speech(args.lang)
    if args.seconds:
        pcm = pcm[:round(args.seconds * SAMPLE_RATE)]
    for run in range(args.runs):
        result = asyncio.run(run_once(pcm, args.loss, args.jitter, args.seed + run,
                                      "inprocess" if args.in_process else "subprocess",
                                      feedback=not args.no_feedback))
        result["lang"] = args.lang
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
