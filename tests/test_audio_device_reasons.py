"""Every sound-card error says why as data (``AudioDeviceError.reason``) beside its English
message, so an interface can word it in its own language: the real raise sites of the
device boundary, the clocked device and sounddevice (PortAudio's error codes; a missing
PortAudio: tests/test_audio_sd_backend.py)."""

from __future__ import annotations

import pytest

from app.audio.backend import AudioDeviceError, DeviceErrorReason, DeviceInfo, select_device
from app.audio.clocked import DEVICE, ClockedBackend
from app.audio.sd_backend import SoundDeviceBackend, SoundDeviceStream, portaudio_reason

R = DeviceErrorReason

sd = pytest.importorskip("sounddevice")
no_devices = pytest.mark.skipif(len(sd.query_devices()) > 0, reason="a sound card is present")

DEVICES = [
    DeviceInfo(0, "Built-in", 2, 2, 48000.0, True, True),
    DeviceInfo(1, "HDMI 0", 0, 8, 48000.0),
]


@pytest.mark.parametrize(
    ("devices", "spec", "direction", "reason", "device", "message"),
    [
        ([], None, "input", R.NO_DEVICE, "", "no input device available"),
        (DEVICES[1:], None, "input", R.NO_DEVICE, "", "no input device available"),
        ([], None, "output", R.NO_DEVICE, "", "no output device available"),
        (DEVICES, "bluetooth", "output", R.NOT_FOUND, "bluetooth", "device 'bluetooth' not found"),
        (DEVICES, 9, "input", R.NOT_FOUND, "9", "device '9' not found"),
        (DEVICES, 1, "input", R.NO_CHANNELS, "HDMI 0", "device 1 has no input channels"),
    ],
)
def test_device_selection_says_why_it_found_nothing(devices: list[DeviceInfo],
                                                    spec: int | str | None, direction: str,
                                                    reason: DeviceErrorReason, device: str,
                                                    message: str) -> None:
    with pytest.raises(AudioDeviceError) as raised:
        select_device(devices, spec, direction)  # type: ignore[arg-type]
    error = raised.value
    assert (error.reason, error.device, error.direction) == (reason, device, direction)
    assert str(error) == message  # the English message of logs and the CLI, as before
    assert error.detail == ""


def test_a_plain_device_error_is_other_and_keeps_its_message() -> None:
    error = AudioDeviceError("USB headset unplugged")
    assert (error.reason, error.device, error.direction, error.detail) == \
        (R.OTHER, "", None, "")
    assert str(error) == "USB headset unplugged"


# ---- the clocked virtual device ------------------------------------------------------------


def test_clocked_device_not_found_refused_block_and_closed_stream() -> None:
    backend = ClockedBackend()
    try:
        with pytest.raises(AudioDeviceError) as missing:
            backend.open_input(lambda block: None, 960, device="USB headset")
        assert (missing.value.reason, missing.value.device) == (R.NOT_FOUND, "USB headset")
        with pytest.raises(AudioDeviceError, match="invalid block size 0") as refused:
            backend.open_output(lambda block: None, 0)
        assert refused.value.reason is R.UNSUPPORTED
        assert refused.value.detail == "block size 0"
        stream = backend.open_output(lambda block: None, 960)
        stream.close()
        with pytest.raises(AudioDeviceError, match="stream is closed") as closed:
            stream.start()
        assert (closed.value.reason, closed.value.device, closed.value.direction) == \
            (R.CLOSED, DEVICE.name, "output")
    finally:
        backend.close()


# ---- sounddevice (PortAudio) ---------------------------------------------------------------


def portaudio_error(code: int) -> Exception:
    """The error sounddevice itself raises for a PortAudio ``PaErrorCode``."""
    with pytest.raises(sd.PortAudioError) as raised:
        sd._check(code)
    return raised.value


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (-9985, R.UNAVAILABLE),  # paDeviceUnavailable: busy, e.g. another program has it
        (-9987, R.UNAVAILABLE),  # paTimedOut
        (-9996, R.NOT_FOUND),  # paInvalidDevice
        (-9998, R.NO_CHANNELS),  # paInvalidChannelCount
        (-9997, R.UNSUPPORTED),  # paInvalidSampleRate
        (-9994, R.UNSUPPORTED),  # paSampleFormatNotSupported
        (-9990, R.UNSUPPORTED),  # paBufferTooSmall
        (-10000, R.AUDIO_SYSTEM),  # paNotInitialized
    ],
)
def test_a_known_portaudio_code_gives_the_reason_and_no_english_detail(
        code: int, reason: DeviceErrorReason) -> None:
    error = portaudio_error(code)
    assert error.args[1] == code  # where sounddevice puts the code
    assert portaudio_reason(error, R.OTHER) == (reason, "")


def test_an_unmapped_portaudio_code_keeps_the_librarys_words() -> None:
    error = portaudio_error(-9992)  # paInsufficientMemory
    assert portaudio_reason(error, R.OTHER) == \
        (R.OTHER, "Insufficient memory [PaErrorCode -9992]")


def test_a_host_error_keeps_the_hosts_own_words() -> None:
    error = sd.PortAudioError("Unanticipated host error", -9999, (-9979, -16, "Device or "
                                                                              "resource busy"))
    assert portaudio_reason(error, R.OTHER) == (R.OTHER, "Device or resource busy")


def test_a_device_index_portaudio_does_not_know_is_not_found() -> None:
    """sounddevice says so without a code ("Error querying device N"): a device unplugged
    between the listing and the opening."""
    with pytest.raises(AudioDeviceError, match="cannot open input device 'Gone USB': "
                                               "Error querying device 999") as raised:
        SoundDeviceStream(sd, "input", DeviceInfo(999, "Gone USB", 1, 0, 48000.0),
                          lambda block: None, 960, "low", None)
    error = raised.value
    assert (error.reason, error.device, error.direction, error.detail) == \
        (R.NOT_FOUND, "Gone USB", "input", "")
    assert isinstance(error.__cause__, sd.PortAudioError)


@no_devices
@pytest.mark.parametrize("direction", ["input", "output"])
def test_no_sound_card_is_no_device(direction: str) -> None:
    backend = SoundDeviceBackend()
    opener = backend.open_input if direction == "input" else backend.open_output
    with pytest.raises(AudioDeviceError) as raised:
        opener(lambda block: None, 960)
    assert (raised.value.reason, raised.value.direction) == (R.NO_DEVICE, direction)

