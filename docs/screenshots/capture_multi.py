"""Screenshots of several joined interphones and of a ringing call (issue 14, items 3 and 5):

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshots/capture_multi.py

Writes into docs/screenshots/: the demo window joined to Ops (the talk target,
blue bar), Night shift (listened to, highlighted while Carol speaks there) and
Everyone (muted: the muted-speaker glyph, the greyed name), with the selected
row's Talk here / volume / mute controls, the banner of an incoming call
(extension presence), the tray menu meanwhile (Answer, Dismiss the call) and an
emergency raised in Ops by another user (its banner names the interphone and offers
Silence), in English and Simplified Chinese.

Then, with a cluster of its own (a ``redis-server`` on a free port and two TLS
nodes sharing one self-signed certificate): the sign-in dialog with a list of two
servers and TLS ticked, the trust-on-first-use question with the fingerprint, and
the window signed in to the first node, joined to several interphones.

And, with a node of that ``redis-server`` (open mode, no TLS): the window while the
server cannot reach its database (Redis paused: the node tells it, extension health),
the status bar saying so and a join clicked meanwhile waiting for the database
(``main-store-degraded-1280x800-*.png``).

Parts of it can be taken alone, named after the command (all when none is):
``interphones`` (several joined, the call, the emergency), ``cluster``, ``degraded``.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shots import (  # noqa: E402
    chosen_parts,
    in_each_language,
    qt_session,
    running,
    save,
    scratch_settings,
    sign_in_dialog,
    signed_in,
    until,
)

from app.client import InterphoneClient  # noqa: E402
from app.client.asked_features import asked_features  # noqa: E402
from app.client.trust import TrustPolicy, client_context  # noqa: E402
from app.demo import DemoTimings  # noqa: E402
from app.server import InterphoneServer  # noqa: E402
from app.server.directory import Directory  # noqa: E402
from app.server.redis_store import RedisStore  # noqa: E402
from app.server.settings import ServerSettings  # noqa: E402
from app.server.tls import TlsOptions, load_server_context  # noqa: E402
from app.ui.runtime import Options  # noqa: E402
from app.ui.view_types import LinkState  # noqa: E402

NIGHT = "discuss_12"
EVERYONE = "group_1"
OPS = "group_58"




async def capture(app: QApplication, language: str, folder: Path) -> None:
    timings = DemoTimings(alice_every=4.0, carol_every=2.0, bob_calls_after=None, bob_calls_at=6.0)
    options = Options(demo=True, simulate_audio=True, size=QSize(1280, 800),
                      demo_timings=timings)
    async with running(app, language, options, scratch_settings(folder, language)) as runtime:
        await asyncio.wait_for(runtime.ready.wait(), 15)
        window, client = runtime.window, runtime.client
        assert window is not None and client is not None
        await client.join(NIGHT, target=False)
        await client.join(EVERYONE, target=False)
        rows = window.interphones
        rows.select(EVERYONE)
        window.panel.mix.mute.setChecked(True)
        rows.select(NIGHT)
        window.panel.mix.volume.setValue(70)
        await until(lambda: (row := rows.row(NIGHT)) is not None and row.active, 15.0)
        await asyncio.sleep(0.3)
        save(window, f"main-scan-list-1280x800-{language}.png")
        await until(lambda: window.banner.isVisible(), 20)
        await asyncio.sleep(0.2)
        save(window, f"main-incoming-call-1280x800-{language}.png")
        tray = runtime.tray
        assert tray is not None
        tray.refresh()  # (as when the menu opens)
        tray.menu.adjustSize()
        save(tray.menu, f"tray-menu-call-{language}.png")
        window.banner.hide()
        assert runtime.world is not None
        bob = InterphoneClient("127.0.0.1", runtime.world.port, "bob", "x",
                             reconnect=False, features=asked_features(tls=False))
        await bob.connect()  # (the demo's ringing bob is signed out by it)
        await bob.join(OPS)
        await bob.raise_emergency(OPS)
        await until(lambda: window.emergency.isVisible(), 10)
        await asyncio.sleep(0.3)
        save(window, f"main-emergency-1280x800-{language}.png")
        await bob.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of this script's own on a free loopback port (no files kept)."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit("redis-server is not on PATH (bash scripts/dev.sh setup installs it)")
    port = free_port()
    process = subprocess.Popen([executable, "--port", str(port), "--bind", "127.0.0.1",
                                "--dir", str(folder), "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("redis-server did not start")


async def capture_cluster(app: QApplication, language: str, folder: Path,
                          redis_url: str) -> None:
    """The sign-in dialog with two TLS nodes, the fingerprint question, then signed in."""
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=folder / "tls"))
    directory = Directory.from_toml_file(ROOT / "app/server/example.toml")
    settings_off = directory.settings.with_overrides(media_encryption="off")  # deploy.md
    nodes = [InterphoneServer(directory, host="127.0.0.1", port=0, tls=context,
                              settings=settings_off, store=RedisStore(redis_url, name))
             for name in ("node-a", "node-b")]
    for node in nodes:
        await node.start()
    try:
        options = Options(simulate_audio=True, size=QSize(1280, 800))
        async with running(app, language, options, scratch_settings(folder, language)) as runtime:
            dialog = await sign_in_dialog(runtime)
            servers = ", ".join(f"127.0.0.1:{node.port}" for node in nodes)
            dialog.set_values(servers, "alice", "pw-alice", False)
            dialog.tls.setChecked(True)
            await asyncio.sleep(0.3)
            save(dialog, f"sign-in-servers-tls-{language}.png")
            dialog.ok.click()
            await until(lambda: fingerprint == dialog.fingerprint.text().replace("\n", ""))
            await asyncio.sleep(0.3)
            save(dialog, f"sign-in-fingerprint-{language}.png")
            dialog.trust_certificate.setChecked(True)
            dialog.ok.click()
            window, client = await signed_in(runtime)
            for interphone in ("group_58", "discuss_12"):
                await client.join(interphone, target=interphone == "group_58")
            # bob on the other node, in Ops and Night shift with alice
            bob = InterphoneClient("127.0.0.1", nodes[1].port, "bob", "secret", reconnect=False,
                                   ssl=client_context(TrustPolicy(pin=fingerprint)),
                                   features=asked_features(tls=True))
            await bob.connect()
            for interphone in ("group_58", "discuss_12"):
                await bob.join(interphone, target=interphone == "group_58")
            window.interphones.select("group_58")
            await until(lambda: (row := window.interphones.row("group_58")) is not None
                        and row.member_count == 2)
            await asyncio.sleep(0.5)
            save(window, f"main-cluster-tls-1280x800-{language}.png")
            await bob.close()
    finally:
        for node in nodes:
            await node.stop()


async def capture_degraded(app: QApplication, language: str, folder: Path,
                           redis: subprocess.Popen[bytes], redis_url: str) -> None:
    """Signed in to a node whose Redis is paused: degraded, a join clicked meanwhile."""
    node = InterphoneServer(Directory.demo(), host="127.0.0.1", port=0,
                            settings=ServerSettings(auth="open"),
                            store=RedisStore(redis_url, "node-a"))
    await node.start()
    try:
        options = Options(simulate_audio=True, size=QSize(1280, 800))
        async with running(app, language, options, scratch_settings(folder, language)) as runtime:
            dialog = await sign_in_dialog(runtime)
            dialog.set_values(f"127.0.0.1:{node.port}", "alice", "x", False)
            dialog.ok.click()
            window, client = await signed_in(runtime)
            await client.join(OPS)
            bob = InterphoneClient("127.0.0.1", node.port, "bob", "x", reconnect=False,
                                   features=asked_features(tls=False))
            await bob.connect()
            await bob.join(OPS)
            window.interphones.select(OPS)
            await until(lambda: (row := window.interphones.row(OPS)) is not None
                        and row.member_count == 2)
            redis.send_signal(signal.SIGSTOP)  # (hung: the node counts it out after 1 s)
            try:
                await until(lambda: window.link_state is LinkState.DEGRADED, 15.0)
                window.interphones.select(NIGHT)
                window.join_requested.emit(NIGHT)
                # "Night shift will be joined once the server's database is back"
                await until(lambda: "Night shift" in window.statusBar().currentMessage(), 10.0)
                await asyncio.sleep(0.3)
                save(window, f"main-store-degraded-1280x800-{language}.png")
            finally:
                redis.send_signal(signal.SIGCONT)
            await until(lambda: window.link_state is LinkState.CONNECTED, 20.0)
            await bob.close()
    finally:
        await node.stop()


def main() -> int:
    parts = chosen_parts(__doc__, ("interphones", "cluster", "degraded"))
    with qt_session() as (app, loop, folder):
        if "interphones" in parts:
            in_each_language(loop, lambda language: capture(app, language, folder))
        if not parts & {"cluster", "degraded"}:
            return 0
        redis, redis_url = start_redis(folder)
        try:
            if "cluster" in parts:
                in_each_language(
                    loop, lambda language: capture_cluster(app, language, folder, redis_url))
            if "degraded" in parts:
                in_each_language(loop, lambda language: capture_degraded(
                    app, language, folder, redis, redis_url))
        finally:
            redis.terminate()
            redis.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
