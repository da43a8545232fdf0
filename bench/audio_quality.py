"""Speech quality of the codec under loss: PESQ-WB per encoder setting and the FEC policy.

Codec alone (no network): speech made by ``espeak-ng`` (English and Mandarin)
is encoded at 20 ms frames, packets are dropped at random (seeded), and the
rest is decoded the way a listener's ``TalkerStream`` does it
(``FrameRecovery``: FEC from the next packet when it carries some, else
concealment) or with concealment only. Scored with PESQ wide-band
(ITU-T P.862.2, the ``pesq`` package) against the input, after removing the
encoder's look-ahead. Also counts the packets that really carry FEC (LBRR).

Needs ``espeak-ng`` on PATH and ``pip install pesq``. Prints one JSON object;
``--markdown`` prints the table for docs/audio-quality.md instead::

    python bench/audio_quality.py --quick
    python bench/audio_quality.py --markdown
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import mean

import numpy as np

if __package__ in (None, ""):  # run as a script: make `app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.audio.codec import OpusEncoder, packet_has_lbrr
from app.audio.constants import DEFAULT_BITRATE, SAMPLE_RATE
from app.audio.fec_policy import setting_for_loss
from app.audio.resample import resample
from app.audio.talker_stream import FrameRecovery
from app.audio.wavio import read_wav

TEXTS = {
    "en": ("The quick brown fox jumps over the lazy dog. Please call Stella and ask her to "
           "bring these things with her from the store: six spoons of fresh snow peas, five "
           "thick slabs of blue cheese, and maybe a snack for her brother Bob."),
    "zh": ("今天天气很好，我们一起去公园散步吧。请大家注意安全，车辆进站时不要靠近站台边缘。"
           "下午三点在会议室开会，讨论下周的工作安排。"),
}
VOICES = {"en": "en", "zh": "cmn"}
FRAME_MS = 20


def missing_tools() -> str | None:
    """What this machine lacks to make the speech and score it, or None."""
    missing = []
    if shutil.which("espeak-ng") is None:
        missing.append("espeak-ng on PATH (Debian/Ubuntu: apt-get install espeak-ng)")
    try:
        import pesq  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        missing.append("the pesq package (pip install pesq)")
    return "needs " + " and ".join(missing) if missing else None


def speech(lang: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{lang}.wav"
        subprocess.run(["espeak-ng", "-v", VOICES[lang], "-s", "150", "-w", str(path),
                        TEXTS[lang]], check=True, capture_output=True)
        return read_wav(str(path))


def encode(pcm: np.ndarray, perc: int, bitrate: int) -> tuple[list[bytes], int]:
    n = FRAME_MS * 48
    with OpusEncoder(FRAME_MS, bitrate, fec=True, expected_loss_pct=perc) as enc:
        packets = [enc.encode(pcm[i:i + n]) for i in range(0, len(pcm) - n + 1, n)]
        return packets, enc.lookahead_samples


def lost_set(count: int, loss_pct: float, seed: int) -> set[int]:
    rng = random.Random(seed)
    return {k for k in range(count) if rng.random() < loss_pct / 100}


def decode(packets: list[bytes], lost: set[int], use_fec: bool) -> np.ndarray:
    recovery = FrameRecovery()
    out = []
    try:
        for k, packet in enumerate(packets):
            if k not in lost:
                out.append(recovery.decode(packet))
            elif use_fec and k + 1 < len(packets) and k + 1 not in lost:
                out.append(recovery.recover(packets[k + 1]))
            else:
                out.append(recovery.conceal())
    finally:
        recovery.close()
    return np.concatenate(out)


def pesq_wb(reference: np.ndarray, degraded: np.ndarray, lookahead: int) -> float:
    from pesq import pesq  # type: ignore[import-not-found]

    deg = degraded[lookahead:]
    n = min(len(reference), len(deg))
    ref16 = resample(reference[:n], 48000, 16000)
    deg16 = resample(deg[:n], 48000, 16000)
    return float(pesq(16000, ref16, deg16, "wb"))


def score(pcm: np.ndarray, perc: int, bitrate: int, loss_pct: float, seeds: list[int],
          use_fec: bool = True) -> dict[str, float]:
    packets, lookahead = encode(pcm, perc, bitrate)
    scores = [pesq_wb(pcm, decode(packets, lost_set(len(packets), loss_pct, seed), use_fec),
                      lookahead) for seed in seeds]
    return {"pesq": round(mean(scores), 3),
            "lbrr_share": round(sum(map(packet_has_lbrr, packets)) / len(packets), 3)}


def run(quick: bool, smoke: bool = False) -> dict[str, object]:
    losses = [0.0, 2.0, 5.0, 10.0] if quick else [0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0]
    if smoke:  # one row of 3 s of speech: checks that the script runs
        losses, quick = [5.0], True
    seeds = [1] if quick else [1, 2]
    langs = ["en"] if quick else ["en", "zh"]
    fixed = [(5, DEFAULT_BITRATE), (10, DEFAULT_BITRATE), (0, 40000),
             (10, 32000), (20, 40000)]
    rows = []
    for lang in langs:
        pcm = speech(lang)
        if smoke:
            pcm = pcm[:3 * SAMPLE_RATE]
        for loss in losses:
            row: dict[str, object] = {"lang": lang, "loss_pct": loss}
            row["plc_only"] = score(pcm, 0, DEFAULT_BITRATE, loss, seeds, use_fec=False)["pesq"]
            for perc, bitrate in fixed:
                row[f"perc{perc}@{bitrate // 1000}k"] = score(pcm, perc, bitrate, loss, seeds)
            policy = setting_for_loss(loss)
            row["policy"] = {"packet_loss_perc": policy.packet_loss_perc,
                             "bitrate": policy.bitrate,
                             **score(pcm, policy.packet_loss_perc, policy.bitrate, loss, seeds)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return {"bench": "audio_quality", "frame_ms": FRAME_MS, "seeds": seeds, "rows": rows}


def markdown(result: dict[str, object]) -> str:
    rows = result["rows"]
    assert isinstance(rows, list)
    settings = [k for k in rows[0] if k.startswith("perc")]
    head = ["lang", "loss %", "PLC only", *settings, "policy (perc@kbit/s)", "policy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["lang"], f"{row['loss_pct']:g}", f"{row['plc_only']:.2f}"]
        cells += [f"{row[k]['pesq']:.2f} ({row[k]['lbrr_share']:.0%} FEC)" for k in settings]
        policy = row["policy"]
        cells += [f"{policy['packet_loss_perc']}@{policy['bitrate'] // 1000}",
                  f"**{policy['pesq']:.2f}** ({policy['lbrr_share']:.0%} FEC)"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--smoke", action="store_true",
                        help="one row (English, 5 %% loss, one seed, the first 3 s of the "
                             "speech): checks that it runs")
    args = parser.parse_args()
    if why := missing_tools():
        sys.exit(f"audio_quality: {why}")
    result = run(args.quick, args.smoke)
    print(markdown(result) if args.markdown else json.dumps(result))


if __name__ == "__main__":
    main()
