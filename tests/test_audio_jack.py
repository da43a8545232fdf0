"""The real sounddevice path, on a JACK server with its dummy driver (no sound card).

``jackd --no-realtime -d dummy`` is a real-time "sound card" paced at 48 kHz
that PortAudio's JACK host API (compiled into Debian's libportaudio2) lists
as the device ``system``. Each PortAudio stream is a JACK client port; with
``jack_connect`` a playback port is looped into a capture port, so what one
stream plays the other records.

Set-up: ``jackd2`` is installed if missing (apt-get, non-interactively, as
root; otherwise the tests skip and say why). The server gets a private name
(``JACK_DEFAULT_SERVER``), so nothing else on the machine sees it, and lives
only for this module: the tests after it see no sound card again. PortAudio
enumerates host APIs when it is initialised, so it is re-initialised after
jackd starts and again after it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import pytest
from waiting import end_process, wait_for, wait_until

from app.audio.backend import select_device
from app.audio.codec import OpusDecoder
from app.audio.constants import SAMPLE_RATE
from app.audio.pipeline import AudioEngine
from app.audio.sd_backend import SoundDeviceBackend, SoundDeviceStream, import_sounddevice

pytestmark = pytest.mark.jack

PERIOD = 960  # 20 ms JACK periods
TONE_HZ = 1000.0
TONE_LEVEL = 0.3
_APT_TIMEOUT = 240


def _install_jackd() -> str | None:
    """Install Debian's jackd2 if missing; returns why it cannot be had, or None."""
    if shutil.which("jackd") and shutil.which("jack_connect"):
        return None
    if shutil.which("apt-get") is None:
        return "jackd is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return "jackd is not installed and installing it needs root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # jackd2's post-install question (real-time limits for the audio group): no.
    subprocess.run(["debconf-set-selections"], input="jackd2 jackd/tweak_rt_limits boolean false\n",
                   text=True, env=env, capture_output=True, check=False)
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "jackd2"]
    for attempt in range(2):
        if attempt:  # stale or missing package lists: refresh once
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True,
                           check=False, timeout=_APT_TIMEOUT)
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False,
                              timeout=_APT_TIMEOUT)
        if done.returncode == 0 and shutil.which("jackd"):
            return None
    return f"apt-get could not install jackd2: {done.stderr.strip()[-300:]}"


@pytest.fixture(scope="session")
def jackd_installed() -> None:
    reason = _install_jackd()
    if reason is not None:
        pytest.skip(reason)


def _reinit_portaudio() -> None:
    sd = import_sounddevice()
    sd._terminate()
    sd._initialize()


@pytest.fixture(scope="module")
def jack_server(jackd_installed: None) -> Iterator[str]:
    """A private JACK dummy server for this module; PortAudio re-scanned around it."""
    name = f"interphone-test-{os.getpid()}"
    saved = {key: os.environ.get(key) for key in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    # The log goes to a file, not a pipe: jackd must never block writing it.
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", str(SAMPLE_RATE),
             "-p", str(PERIOD), "-C", "1", "-P", "1"],
            stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            ready = subprocess.run(["jack_wait", "-s", name, "-w", "-t", "10"],
                                   capture_output=True, text=True, timeout=15, check=False)
            if proc.poll() is not None:
                log.seek(0)
                pytest.skip(f"jackd exited at start ({proc.returncode}): {log.read()[-300:]}")
            if ready.returncode != 0:
                pytest.skip("jackd did not answer within 10 s")
            _reinit_portaudio()
            yield name
        finally:
            with contextlib.suppress(Exception):
                import_sounddevice()._terminate()  # close PortAudio's JACK client first
            end_process(proc, 5)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            with contextlib.suppress(Exception):
                import_sounddevice()._initialize()  # the machine's own devices again


# ---------------------------------------------------------------- helpers
def jack_ports() -> set[str]:
    out = subprocess.run(["jack_lsp"], capture_output=True, text=True, check=True, timeout=5)
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def new_port(before: set[str], kind: str) -> str:
    """The port a stream just added (``kind`` is ``in`` or ``out``)."""
    added = sorted(p for p in jack_ports() - before if p.rsplit(":", 1)[-1].startswith(kind))
    assert len(added) == 1, f"expected one new {kind} port, got {added}"
    return added[0]


def jack_connect(source: str, destination: str) -> None:
    subprocess.run(["jack_connect", source, destination], check=True, timeout=5,
                   capture_output=True)


class ToneSource:
    """An output callback playing a continuous sine."""

    def __init__(self, hz: float = TONE_HZ, level: float = TONE_LEVEL) -> None:
        self.hz, self.level, self.position = hz, level, 0

    def __call__(self, out: np.ndarray) -> None:
        n = np.arange(self.position, self.position + len(out))
        out[:] = self.level * np.sin(2 * np.pi * self.hz * n / SAMPLE_RATE)
        self.position += len(out)


@contextlib.contextmanager
def tone_into(engine: AudioEngine, backend: SoundDeviceBackend) -> Iterator[None]:
    """``engine`` started on the device ``system``, a player of a tone on it wired into
    the engine's input; both closed at the end."""
    before = jack_ports()
    engine.start()
    engine_in = new_port(before, "in")
    before = jack_ports()
    player = backend.open_output(ToneSource(), PERIOD, device="system")
    player_out = new_port(before, "out")
    try:
        player.start()
        jack_connect(player_out, engine_in)
        yield
    finally:
        player.close()
        engine.close()


class Recorder:
    """An input callback keeping every block with its arrival time."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.times: list[float] = []

    def __call__(self, block: np.ndarray) -> None:
        self.blocks.append(block.copy())
        self.times.append(time.monotonic())

    def since(self, start: int) -> np.ndarray:
        blocks = self.blocks[start:]
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def tone_fraction(signal: np.ndarray, hz: float = TONE_HZ) -> tuple[float, float]:
    """(rms, share of the energy within ±20 Hz of ``hz``)."""
    signal = np.asarray(signal, dtype=np.float64)
    rms = float(np.sqrt(np.mean(signal**2))) if len(signal) else 0.0
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / SAMPLE_RATE)
    total = float(spectrum.sum())
    near = float(spectrum[np.abs(freqs - hz) <= 20].sum())
    return rms, near / total if total > 0 else 0.0


# ------------------------------------------------------------------ tests
def test_device_listing_shows_the_jack_device_and_selects_it_by_name(jack_server: str) -> None:
    backend = SoundDeviceBackend()
    devices = backend.list_devices()
    system = [d for d in devices if d.name == "system"]
    assert system, f"no JACK 'system' device in {devices}"
    assert system[0].max_input_channels >= 1 and system[0].max_output_channels >= 1
    assert system[0].default_samplerate == SAMPLE_RATE
    sd = import_sounddevice()
    api = sd.query_hostapis(sd.query_devices(system[0].index)["hostapi"])["name"]
    assert "JACK" in api
    assert select_device(devices, "system", "input").index == system[0].index
    assert select_device(devices, "SYST", "output").index == system[0].index  # substring


def test_loopback_round_plays_a_tone_into_the_capture(jack_server: str) -> None:
    backend = SoundDeviceBackend()
    tone, recorder = ToneSource(), Recorder()
    before = jack_ports()
    output = backend.open_output(tone, PERIOD, device="system")
    out_port = new_port(before, "out")
    before = jack_ports()
    capture = backend.open_input(recorder, PERIOD, device="system")
    in_port = new_port(before, "in")
    assert isinstance(output, SoundDeviceStream) and output.samplerate == SAMPLE_RATE
    try:
        output.start()
        capture.start()
        wait_for(lambda: len(recorder.blocks) >= 10)
        # Only the dummy capture is connected so far: silence.
        rms, _ = tone_fraction(recorder.since(0))
        assert rms < 1e-4
        jack_connect(out_port, in_port)
        time.sleep(0.1)  # the connection takes effect at the next period
        start = len(recorder.blocks)
        began = time.monotonic()
        wait_for(lambda: len(recorder.blocks) >= start + 25)
        elapsed = time.monotonic() - began
        heard = recorder.since(start)
        rms, share = tone_fraction(heard)
        assert rms == pytest.approx(TONE_LEVEL / np.sqrt(2), rel=0.05)
        assert share > 0.99
        # Paced in real time: 25 blocks of 20 ms take about half a second.
        assert 0.3 < elapsed < 1.5
        assert output.blocks > 0 and capture.active
    finally:
        capture.close()
        output.close()


async def test_audio_engine_transmits_frames_captured_from_jack(jack_server: str) -> None:
    backend = SoundDeviceBackend()
    packets: list[bytes] = []
    engine = AudioEngine(backend, send_frame=packets.append, loop=asyncio.get_running_loop(),
                         input_device="system", output_device="system")
    with tone_into(engine, backend):
        await asyncio.sleep(0.2)
        engine.start_transmit()
        await wait_until(lambda: len(packets) >= 25, 5.0, "25 packets from the JACK input")
        engine.stop_transmit(0)
        counters = engine.counters
    assert len(packets) >= 25 and counters.frames_sent == len(packets)
    with OpusDecoder(20) as decoder:
        pcm = np.concatenate([decoder.decode(p) for p in packets])
    rms, share = tone_fraction(pcm[len(pcm) // 4:])  # past the codec's start-up
    assert rms == pytest.approx(TONE_LEVEL / np.sqrt(2), rel=0.2)
    assert share > 0.9
