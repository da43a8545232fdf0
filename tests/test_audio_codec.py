"""Opus wrapper: real libopus, quality measured by correlation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from audio_helpers import correlation, peak_allocation, speech_like

from app.audio.codec import (
    CodecError,
    OpusDecoder,
    OpusEncoder,
    float_to_int16,
    packet_samples,
)
from app.audio.constants import (
    ALLOWED_FRAME_MS,
    MAX_OPUS_PACKET,
    SAMPLE_RATE,
    frame_samples,
)

REPO = Path(__file__).resolve().parents[1]


def encode_all(enc: OpusEncoder, pcm: np.ndarray) -> list[bytes]:
    n = enc.frame_samples
    return [enc.encode(pcm[i * n:(i + 1) * n]) for i in range(len(pcm) // n)]


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return speech_like(3.0, seed=0)


@pytest.mark.parametrize(("frame_ms", "samples"), [(10, 480), (20, 960), (40, 1920),
                                                    (60, 2880)])
def test_frame_samples(frame_ms: int, samples: int) -> None:
    assert frame_samples(frame_ms) == samples


@pytest.mark.parametrize("frame_ms", [0, 5, 25, 120])
def test_frame_samples_rejects_other_durations(frame_ms: int) -> None:
    with pytest.raises(ValueError):
        frame_samples(frame_ms)


@pytest.mark.parametrize("frame_ms", ALLOWED_FRAME_MS)
def test_round_trip_correlates_after_lookahead(speech: np.ndarray, frame_ms: int) -> None:
    with OpusEncoder(frame_ms) as enc, OpusDecoder(frame_ms) as dec:
        packets = encode_all(enc, speech)
        assert all(0 < len(p) <= MAX_OPUS_PACKET for p in packets)
        out = np.concatenate([dec.decode(p) for p in packets])
        assert out.dtype == np.float32 and out.ndim == 1
        assert len(out) == len(packets) * enc.frame_samples
        lag = enc.lookahead_samples
        assert lag == pytest.approx(0.0065 * SAMPLE_RATE, abs=48)
        n = len(out) - lag
        assert correlation(speech[:n], out[lag:lag + n]) > 0.8


def test_bitrate_is_roughly_respected(speech: np.ndarray) -> None:
    with OpusEncoder(20, bitrate=24000) as enc:
        packets = encode_all(enc, speech)
    bits_per_second = sum(map(len, packets)) * 8 / (len(packets) * 0.02)
    assert 12000 < bits_per_second < 32000


def test_float_to_int16_clips() -> None:
    pcm = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0], dtype=np.float32)
    assert float_to_int16(pcm).tolist() == [-32767, -32767, 0, 16384, 32767, 32767]


def test_encoding_out_of_range_input_does_not_fail() -> None:
    with OpusEncoder() as enc:
        assert enc.encode(np.full(960, 5.0, dtype=np.float32))


@pytest.mark.parametrize("bad", [np.zeros(959, np.float32), np.zeros(961, np.float32),
                                 np.zeros((960, 2), np.float32), np.zeros(480, np.float32)])
def test_encoder_rejects_wrong_frame_size(bad: np.ndarray) -> None:
    with OpusEncoder(20) as enc, pytest.raises(CodecError, match="960"):
        enc.encode(bad)


@pytest.mark.parametrize("packet", [b"\xff\xff\xff\xff\xff\xff", b"\x03"])
def test_decoder_rejects_corrupt_packet(packet: bytes) -> None:
    with OpusDecoder() as dec, pytest.raises(CodecError):
        dec.decode(packet)


def test_decoder_rejects_packet_of_other_duration() -> None:
    with OpusEncoder(40) as enc, OpusDecoder(20) as dec:
        packet = enc.encode(np.zeros(1920, np.float32))
        with pytest.raises(CodecError, match="1920"):
            dec.decode(packet)


def test_codec_error_is_a_value_error() -> None:
    assert issubclass(CodecError, ValueError)


def test_closed_codecs_raise_and_close_is_idempotent() -> None:
    enc, dec = OpusEncoder(), OpusDecoder()
    enc.close()
    enc.close()
    dec.close()
    dec.close()
    assert enc.closed and dec.closed
    with pytest.raises(CodecError, match="closed"):
        enc.encode(np.zeros(960, np.float32))
    with pytest.raises(CodecError, match="closed"):
        dec.conceal()


def test_conceal_returns_a_frame() -> None:
    with OpusDecoder(40) as dec:
        pcm = dec.conceal()
    assert pcm.shape == (1920,) and pcm.dtype == np.float32


def test_set_expected_loss_validates_and_applies() -> None:
    with OpusEncoder(expected_loss_pct=0) as enc:
        assert enc.fec
        enc.set_expected_loss(10)
        assert enc.expected_loss == 10
        with pytest.raises(ValueError):
            enc.set_expected_loss(101)


def _lost_frame_scores(packets: list[bytes], reference: np.ndarray, frame: int
                       ) -> tuple[float, float]:
    """Correlation with the loss-free decode of frame ``k`` for FEC and for PLC."""
    fec_scores, plc_scores = [], []
    for k in range(20, len(packets) - 2, 7):
        with OpusDecoder() as with_fec, OpusDecoder() as with_plc:
            for p in packets[:k]:
                with_fec.decode(p)
                with_plc.decode(p)
            original = reference[k * frame:(k + 1) * frame]
            fec_scores.append(correlation(original, with_fec.decode_fec(packets[k + 1])))
            plc_scores.append(correlation(original, with_plc.conceal()))
    return float(np.mean(fec_scores)), float(np.mean(plc_scores))


def test_fec_recovers_lost_frame_better_than_plc(speech: np.ndarray) -> None:
    with OpusEncoder(20, expected_loss_pct=10) as enc, OpusDecoder() as dec:
        packets = encode_all(enc, speech)
        reference = np.concatenate([dec.decode(p) for p in packets])
    fec, plc = _lost_frame_scores(packets, reference, 960)
    assert fec > 0.6
    assert fec > plc + 0.25


def test_without_expected_loss_fec_carries_nothing(speech: np.ndarray) -> None:
    """FEC costs nothing at packet_loss_perc 0: decode_fec is plain concealment."""
    with OpusEncoder(20, expected_loss_pct=0) as enc, OpusDecoder() as dec:
        packets = encode_all(enc, speech)
        reference = np.concatenate([dec.decode(p) for p in packets])
    fec, plc = _lost_frame_scores(packets, reference, 960)
    assert fec == pytest.approx(plc, abs=0.02)


def _bands(packets: list[bytes]) -> set[str]:
    """The coded band of each packet, from its TOC byte's configuration (RFC 6716 §3.1)."""
    names = {**dict.fromkeys(range(0, 4), "narrowband"), **dict.fromkeys(range(4, 8), "mediumband"),
             **dict.fromkeys(range(8, 12), "wideband"), 12: "superwideband", 13: "superwideband",
             14: "fullband", 15: "fullband", **dict.fromkeys(range(16, 20), "narrowband"),
             **dict.fromkeys(range(20, 24), "wideband"),
             **dict.fromkeys(range(24, 28), "superwideband"),
             **dict.fromkeys(range(28, 32), "fullband")}
    return {names[packet[0] >> 3] for packet in packets}


def test_speech_is_coded_wideband_by_default_and_fullband_when_asked(speech: np.ndarray) -> None:
    """The default caps the band at 8 kHz (SILK wideband at 24 kbit/s); Opus left to
    itself codes this speech up to 20 kHz."""
    with OpusEncoder(20) as enc:
        assert enc.max_bandwidth == "wideband"
        assert _bands(encode_all(enc, speech)) == {"wideband"}
    with OpusEncoder(20, max_bandwidth="fullband") as enc:
        assert "fullband" in _bands(encode_all(enc, speech))
    with pytest.raises(CodecError, match="unknown Opus bandwidth"):
        OpusEncoder(20, max_bandwidth="hifi")


def test_no_errors_printed_at_interpreter_exit() -> None:
    code = (
        "from app.audio.codec import OpusEncoder, OpusDecoder\n"
        "import numpy as np\n"
        "e = OpusEncoder(); d = OpusDecoder(); d.decode(e.encode(np.zeros(960, 'f4')))\n"
        "kept = (e, d)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, check=False, cwd=REPO)
    assert done.returncode == 0
    assert done.stderr == ""


def test_decode_allocates_only_the_frame_it_returns() -> None:
    with OpusEncoder() as enc, OpusDecoder() as dec:
        packet = enc.encode(speech_like(0.02, seed=3))
        frame_bytes = dec.frame_samples * 4
        assert peak_allocation(lambda: dec.decode(packet)) < 2 * frame_bytes
        assert peak_allocation(dec.conceal) < 2 * frame_bytes


def test_packet_samples_reads_the_toc_as_libopus_does() -> None:
    """The TOC parse in Python gives libopus' frame count × samples per frame for every
    TOC byte and frame-count byte, and None where libopus rejects the packet."""
    import opuslib_next
    import opuslib_next.api.decoder as libopus

    def reference(packet: bytes) -> int | None:
        try:
            frames = libopus.packet_get_nb_frames(packet)
            per_frame = libopus.packet_get_samples_per_frame(packet, SAMPLE_RATE)
        except opuslib_next.OpusError:
            return None
        return int(frames) * int(per_frame)

    for toc in range(256):
        assert packet_samples(bytes([toc])) == reference(bytes([toc])), toc
        for second in (0x00, 0x01, 0x03, 0x3F, 0x41, 0xFF):
            packet = bytes([toc, second, 0x55])
            assert packet_samples(packet) == reference(packet), (toc, second)
    assert packet_samples(b"") is None
    with OpusEncoder(20) as encoder:
        assert packet_samples(encoder.encode(speech_like(0.02))) == 960


def _lbrr_by_the_bitstream(packet: bytes) -> bool:
    """packet_has_lbrr as first written (the arithmetic for each packet), the reference
    for the table-driven one."""
    if len(packet) < 2:
        return False
    toc = packet[0]
    if toc >> 3 >= 16:
        return False
    code = toc & 3
    if code == 3:
        return False
    first = 1
    if code == 2:
        first = 2 if packet[1] < 252 else 3
    if len(packet) <= first:
        return False
    per_frame = (480, 960, 1920, 2880)[(toc >> 3) % 4] if toc >> 3 < 12 \
        else (480, 960)[(toc >> 3) % 2]
    silk_frames = max(1, per_frame // 960)
    return bool((packet[first] >> (7 - silk_frames)) & 1)


def test_packet_has_lbrr_by_table_matches_the_bitstream_arithmetic() -> None:
    from app.audio.codec import packet_has_lbrr

    seen = set()
    for toc in range(256):
        for second in (0x00, 0x3F, 0x40, 0x55, 0x80, 0xAA, 0xFB, 0xFC, 0xFF):
            for third in (0x00, 0x20, 0x40, 0xFF):
                for packet in (bytes([toc]), bytes([toc, second]),
                               bytes([toc, second, third]),
                               bytes([toc, second, third, third ^ 0xFF])):
                    expected = _lbrr_by_the_bitstream(packet)
                    assert packet_has_lbrr(packet) == expected, packet.hex()
                    seen.add(expected)
    assert seen == {True, False}
