"""sounddevice back-end on a machine without a sound card.

The real device paths (streams, xruns, unplug) need a sound server; they are
not exercised here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.audio.backend import AudioBackend, AudioDeviceError
from app.audio.sd_backend import SoundDeviceBackend

REPO = Path(__file__).resolve().parents[1]

sd = pytest.importorskip("sounddevice")
no_devices = pytest.mark.skipif(len(sd.query_devices()) > 0, reason="a sound card is present")


def test_implements_the_backend_interface() -> None:
    assert isinstance(SoundDeviceBackend(), AudioBackend)


@no_devices
def test_lists_no_devices() -> None:
    assert SoundDeviceBackend().list_devices() == []


@no_devices
@pytest.mark.parametrize(("direction", "device"), [("input", None), ("output", None),
                                                   ("input", "usb"), ("output", 3)])
def test_opening_without_devices_raises_audio_device_error(direction: str,
                                                           device: int | str | None) -> None:
    backend = SoundDeviceBackend()
    opener = backend.open_input if direction == "input" else backend.open_output
    with pytest.raises(AudioDeviceError, match=f"no {direction} device available"):
        opener(lambda block: None, 960, device=device)


@no_devices
def test_portaudio_itself_fails_as_described_in_notes() -> None:
    with pytest.raises(sd.PortAudioError, match="Error querying device -1"):
        sd.InputStream(samplerate=48000, channels=1)


def test_missing_portaudio_library_is_an_audio_device_error() -> None:
    code = (
        "import ctypes.util\n"
        "real = ctypes.util.find_library\n"
        "ctypes.util.find_library = lambda n: None if 'portaudio' in n else real(n)\n"
        "from app.audio.backend import AudioDeviceError\n"
        "from app.audio.sd_backend import SoundDeviceBackend\n"
        "try:\n"
        "    SoundDeviceBackend().open_input(lambda b: None, 960)\n"
        "except AudioDeviceError as exc:\n"
        "    print('AudioDeviceError:', exc)\n"
        "    print('reason:', exc.reason, '|', exc.detail)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "AudioDeviceError: audio system unavailable: PortAudio library not found" \
        in done.stdout
    assert "reason: audio_system | PortAudio library not found" in done.stdout


def test_bad_block_size_is_refused() -> None:
    with pytest.raises(AudioDeviceError, match="block size"):
        SoundDeviceBackend().open_output(lambda block: None, 0)
