"""`interphone --self-test`: check that this install (or bundle) really works.

Runs on a machine with no screen and no sound card, from source
(``python -m app --self-test``) and in the frozen bundle, and checks in turn:

1. libopus loads, and a 20 ms frame of a tone survives encode + decode
   (on Linux the path of the libopus actually mapped is read from
   ``/proc/self/maps``, so a bundle can prove it loaded its own copy);
2. PortAudio loads and lists the audio devices (none is fine);
3. the embedded server starts on a free loopback port, and two clients run a
   talk/listen round through it on the clocked virtual sound card: one talks
   a tone captured in real time, the other receives the audio packets,
   decodes them, plays them out and the energy of what it played is checked;
4. Qt's platform plugin loads (a ``QGuiApplication``, offscreen unless
   ``QT_QPA_PLATFORM`` says otherwise), the app's icon is there and renders,
   the app's translations load and Qt's own are present (app.ui.platform_check,
   imported last).

Each step prints one line; the last line is the verdict, ``self-test: ok (...)``
or ``self-test: FAILED: ...``, and the exit code is 0 only if every step
passed. A windowed Windows build has no console: the lines also go to the file
named by ``INTERPHONE_SELFTEST_LOG`` when it is set.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from app.audio.clocked import ClockedBackend
    from app.client import InterphoneClient

TONE_HZ = 440.0
TONE_LEVEL = 0.3  # peak, full scale 1.0 (about -13.5 dBFS RMS)
TALK_SECONDS = 0.6
ROUND_TIMEOUT = 15.0
MIN_PACKET_SHARE = 0.8  # of the frames sent, at least this share must arrive
ENERGY_TOLERANCE_DB = 3.0  # decoded RMS within this of the tone's RMS
GROUP = "group_1"  # the demo directory's "Everyone" group


class SelfTestError(RuntimeError):
    """A step failed; the message says what was seen."""


def mapped_library(fragment: str) -> str | None:
    """Linux: the file of a loaded shared library whose name contains ``fragment``."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)  # address perms offset dev inode [path]
        if len(fields) == 6 and fragment in os.path.basename(fields[5]):
            return fields[5]
    return None


def tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate), dtype=np.float64) / rate
    return (TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def rms_db(pcm: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64)))) if pcm.size else 0.0
    return 20 * np.log10(max(rms, 1e-9))


def check_opus() -> str:
    from app.audio.codec import OpusDecoder, OpusEncoder
    from app.audio.constants import SAMPLE_RATE

    with OpusEncoder() as encoder, OpusDecoder() as decoder:
        frames = tone(0.2, SAMPLE_RATE).reshape(-1, encoder.frame_samples)
        decoded = np.concatenate([decoder.decode(encoder.encode(frame)) for frame in frames])
    # Skip the first frames: the codec's look-ahead and warm-up.
    level = rms_db(decoded[len(decoded) // 2 :])
    expected = rms_db(frames.reshape(-1))
    if abs(level - expected) > ENERGY_TOLERANCE_DB:
        raise SelfTestError(f"decoded tone at {level:.1f} dBFS, expected {expected:.1f}")
    import opuslib_next.api

    return mapped_library("libopus") or str(opuslib_next.api.lib_location)


def check_devices() -> str:
    from app.audio.sd_backend import SoundDeviceBackend, import_sounddevice

    devices = SoundDeviceBackend().list_devices()
    sd = import_sounddevice()
    portaudio = mapped_library("libportaudio") or str(getattr(sd, "_libname", "?"))
    names = ", ".join(device.name for device in devices[:3])
    more = f", {names}" if names else ""
    return f"{len(devices)} device(s){more}; PortAudio {portaudio}"


class _Listener:
    """Decodes received packets and plays them on a clocked output stream."""

    def __init__(self) -> None:
        from app.audio.codec import OpusDecoder

        self.decoder = OpusDecoder()
        self.packets = 0
        self.frames: deque[np.ndarray] = deque()
        self.lock = threading.Lock()

    def on_audio(self, uid: str, seq: int, payload: bytes) -> None:
        self.packets += 1
        pcm = self.decoder.decode(payload)
        with self.lock:
            self.frames.append(pcm)

    def play(self, block: np.ndarray) -> None:  # the clocked device's thread
        with self.lock:
            frame = self.frames.popleft() if self.frames else None
        block[:] = 0.0 if frame is None else frame


async def _talk(
    client: InterphoneClient, backend: ClockedBackend, frame_samples: int, frames: int
) -> int:
    """Capture ``frames`` blocks from the clocked input, encode and send them."""
    from app.audio.codec import OpusEncoder

    loop = asyncio.get_running_loop()
    captured: asyncio.Queue[np.ndarray] = asyncio.Queue()

    def on_block(block: np.ndarray) -> None:
        loop.call_soon_threadsafe(captured.put_nowait, block.copy())

    stream = backend.open_input(on_block, frame_samples)
    sent = 0
    with OpusEncoder() as encoder:
        stream.start()
        try:
            for _ in range(frames):
                block = await asyncio.wait_for(captured.get(), timeout=2.0)
                if client.send_audio(encoder.encode(block)):
                    sent += 1
        finally:
            stream.close()
    return sent


async def loopback_round() -> str:
    from app.audio.clocked import ClockedBackend
    from app.audio.constants import SAMPLE_RATE, frame_samples
    from app.client import InterphoneClient
    from app.server import Directory, InterphoneServer

    samples = frame_samples(20)
    frames = int(TALK_SECONDS * 1000) // 20
    talker_device = ClockedBackend(tone(TALK_SECONDS + 1.0, SAMPLE_RATE))
    listener_device = ClockedBackend()
    listener = _Listener()
    server = InterphoneServer(Directory.demo(), host="127.0.0.1", port=0)
    await server.start()
    talker = InterphoneClient("127.0.0.1", server.port, "selftest-talker", "x", reconnect=False)
    hearer = InterphoneClient("127.0.0.1", server.port, "selftest-listener", "x", reconnect=False)
    hearer.on_audio = listener.on_audio
    playback = listener_device.open_output(listener.play, samples)
    try:
        await talker.connect()
        await hearer.connect()
        await hearer.join(GROUP)
        await talker.join(GROUP)
        playback.start()
        await talker.talk_start()
        sent = await _talk(talker, talker_device, samples, frames)
        await talker.talk_stop()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and (listener.packets < sent or listener.frames):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # the last block leaves the output
    finally:
        playback.close()
        await talker.close()
        await hearer.close()
        await server.stop()
        listener.decoder.close()
        talker_device.close()
        listener_device.close()
    if sent < frames:
        raise SelfTestError(f"the talker could send {sent} of {frames} frames")
    if listener.packets < MIN_PACKET_SHARE * sent:
        raise SelfTestError(f"the listener received {listener.packets} of {sent} packets")
    played = listener_device.collected_output()
    heard = played[np.abs(played) > 1e-4]
    level, expected = rms_db(heard), rms_db(tone(1.0, SAMPLE_RATE))
    if heard.size < (sent // 2) * samples or abs(level - expected) > ENERGY_TOLERANCE_DB:
        raise SelfTestError(
            f"played {heard.size / SAMPLE_RATE:.2f} s at {level:.1f} dBFS, "
            f"expected about {sent * 20 / 1000:.2f} s at {expected:.1f} dBFS"
        )
    return (
        f"port {server.port}, {listener.packets}/{sent} packets, "
        f"{heard.size / SAMPLE_RATE:.2f} s played at {level:.1f} dBFS"
    )


def check_loopback() -> str:
    async def bounded() -> str:
        return await asyncio.wait_for(loopback_round(), ROUND_TIMEOUT)

    return asyncio.run(bounded())


def check_qt() -> str:
    # Qt stays in app/ui; imported last, so the earlier steps run without it.
    from app.ui.platform_check import check_qt_platform

    return check_qt_platform()


STEPS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("libopus", check_opus),
    ("audio devices", check_devices),
    ("loopback", check_loopback),
    ("qt", check_qt),
)


def _emitter() -> Callable[[str], None]:
    log_path = os.environ.get("INTERPHONE_SELFTEST_LOG")
    if log_path:
        Path(log_path).write_text("", encoding="utf-8")

    def emit(line: str) -> None:
        if sys.stdout is not None:
            print(line, flush=True)
        if log_path:
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(line + "\n")

    return emit


def main() -> int:
    emit = _emitter()
    results: list[str] = []
    for name, step in STEPS:
        try:
            detail = step()
        except Exception as exc:  # every failure becomes the verdict
            emit(f"  {name}: FAILED: {type(exc).__name__}: {exc}")
            emit(f"self-test: FAILED: {name}: {type(exc).__name__}: {exc}")
            return 1
        emit(f"  {name}: {detail}")
        results.append(f"{name}: {detail}")
    emit(f"self-test: ok ({'; '.join(results)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
