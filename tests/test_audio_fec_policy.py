"""The FEC policy: listeners' loss in, encoder setting out; and FEC really produced."""

from __future__ import annotations

import numpy as np
import pytest
from audio_helpers import speech_like

from app.audio.codec import OpusDecoder, OpusEncoder, packet_has_lbrr
from app.audio.fec_policy import (
    FEC_PERC,
    HOLD_SECONDS,
    EncoderSetting,
    FecPolicy,
    LossReport,
    setting_for_loss,
)


@pytest.mark.parametrize(("loss", "perc", "bitrate"), [
    (0.0, 0, 24000), (0.4, 0, 24000), (0.5, 0, 24000),  # a clean link pays nothing
    (0.8, 10, 40000), (3.0, 10, 40000), (5.0, 10, 40000), (10.0, 10, 40000),
    (17.2, 10, 40000), (60.0, 10, 40000), (float("nan"), 0, 24000),
])
def test_setting_for_loss(loss: float, perc: int, bitrate: int) -> None:
    assert setting_for_loss(loss) == EncoderSetting(perc, bitrate)


def speech_packets(perc: int, bitrate: int) -> list[bytes]:
    pcm = speech_like(3.0, seed=4)
    with OpusEncoder(20, bitrate, expected_loss_pct=perc) as enc:
        return [enc.encode(pcm[i:i + 960]) for i in range(0, len(pcm) - 960, 960)]


@pytest.mark.parametrize("loss", [0.8, 5.0, 10.0, 30.0])
def test_whenever_there_is_loss_the_setting_really_produces_fec(loss: float) -> None:
    setting = setting_for_loss(loss)
    packets = speech_packets(setting.packet_loss_perc, setting.bitrate)
    assert sum(map(packet_has_lbrr, packets)) > 0.5 * len(packets)


def test_on_a_clean_link_no_fec_is_paid_for() -> None:
    setting = setting_for_loss(0.0)
    assert not any(map(packet_has_lbrr, speech_packets(setting.packet_loss_perc,
                                                       setting.bitrate)))


def test_lbrr_flag_agrees_with_what_the_decoder_recovers() -> None:
    """packet_has_lbrr against decode_fec: with no FEC data a fresh decoder
    can only conceal (silence), with FEC data it rebuilds the frame."""
    for perc in (0, FEC_PERC):
        for packet in speech_packets(perc, 24000)[10:40]:
            if packet[0] >> 3 >= 12:  # hybrid/CELT: a fresh decoder's PLC is not silent
                continue
            with OpusDecoder() as dec:
                recovered = dec.decode_fec(packet)
            assert bool(np.any(recovered != 0.0)) == packet_has_lbrr(packet)


def report(loss: float, at: float) -> LossReport:
    return LossReport(worst_pct=loss, p90_pct=loss / 2, at=at)


class FakeEncoder:
    """Only records what is set (the real encoder is checked above)."""

    def __init__(self) -> None:
        self.expected_loss = 0
        self.bitrate = 24000
        self.calls = 0

    def set_expected_loss(self, pct: int) -> None:
        self.expected_loss = pct
        self.calls += 1

    def set_bitrate(self, bitrate: int) -> None:
        self.bitrate = bitrate


def test_policy_follows_the_worst_listener_at_once_and_decays_after_the_hold() -> None:
    policy = FecPolicy()
    enc = FakeEncoder()
    assert policy.apply(enc, 0.0) == EncoderSetting(0, 24000) and enc.calls == 0
    policy.update(report(0.0, 1.0))
    assert policy.setting(1.0).packet_loss_perc == 0 and policy.next_deadline() is None
    policy.update(report(4.0, 2.0))  # loss appears: FEC from this report on
    assert policy.apply(enc, 2.0) == EncoderSetting(10, 40000)
    assert (enc.expected_loss, enc.bitrate) == (10, 40000)
    policy.update(report(0.0, 3.0))  # one clean report does not switch it off
    assert policy.setting(3.0 + HOLD_SECONDS - 2.1).fec_on
    assert policy.next_deadline() == 2.0 + HOLD_SECONDS
    assert policy.apply(enc, 2.0 + HOLD_SECONDS) == EncoderSetting(0, 24000)  # decayed
    assert (enc.expected_loss, enc.bitrate) == (0, 24000)


def test_loss_that_comes_and_goes_keeps_fec_on() -> None:
    policy = FecPolicy()
    for second in range(30):  # a loss burst every 6 s, clean in between
        policy.update(report(8.0 if second % 6 == 0 else 0.0, float(second)))
        assert policy.setting(float(second)).fec_on
    policy.update(report(0.0, 30.0 + HOLD_SECONDS))
    assert not policy.setting(30.0 + HOLD_SECONDS).fec_on


def test_p90_alone_can_switch_fec_on() -> None:
    policy = FecPolicy()
    policy.update(LossReport(worst_pct=0.0, p90_pct=3.0, at=0.0))
    assert policy.setting(0.0).fec_on
