"""interphone-cli's floor extensions as a user runs them: ``talk --queue`` waits its turn,
``talk --emergency`` pre-empts, ``emergency --cancel``, and ``listen`` reports what it
hears in order. Subprocesses against the real embedded server."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from client_fixtures import Clients, noise_bursts, running_server, wait_until
from test_cli_commands import cli, start_cli

from app.audio.wavio import write_wav
from app.client import FloorState
from app.protocol import InterphoneId

G58 = InterphoneId.group("58")
FLOOR = ("emergency", "floor-queue", "priority")

pytest_plugins = ["client_fixtures"]


@contextlib.asynccontextmanager
async def alice_in_line_behind_bob(clients: Clients, tmp_path: Path
                                   ) -> AsyncIterator[tuple[Any, asyncio.subprocess.Process]]:
    """A server where bob holds G58's floor and alice's ``talk --queue`` (0.4 s of noise)
    waits in line behind him: (bob, the command's process). The server stops at the end of
    the block."""
    wav = tmp_path / "in.wav"
    write_wav(wav, noise_bursts(0.4))
    async with running_server() as server:
        bob = await clients.connect(server.port, "bob", features=FLOOR)
        await bob.join(G58)
        assert await bob.talk_start()
        proc = await start_cli("talk", "group_58", "--wav", str(wav), "--queue",
                               port=server.port, uid="alice")
        await wait_until(lambda: server.state.interphones[G58].floor.queue == ("alice",),
                         timeout=10, what="alice in line")
        yield bob, proc


async def test_talk_queue_waits_for_the_floor_then_sends(clients: Clients, tmp_path):
    async with alice_in_line_behind_bob(clients, tmp_path) as (bob, proc):
        await asyncio.sleep(0.3)
        assert proc.returncode is None  # still waiting
        await bob.talk_stop()
        out, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
    assert "waiting in line: next" in err.decode()
    assert out.decode().startswith("sent 0.40 s (20 frames of 20 ms) to group_58")


async def test_talk_emergency_pre_empts_and_emergency_cancel(clients: Clients, tmp_path):
    wav = tmp_path / "in.wav"
    write_wav(wav, noise_bursts(0.2))
    async with running_server() as server:
        bob = await clients.connect(server.port, "bob", features=FLOOR)
        await bob.join(G58)
        assert await bob.talk_start()
        code, out, err = await cli("talk", "group_58", "--wav", str(wav), "--emergency",
                                   port=server.port, uid="alice")
        assert code == 0, err
        await wait_until(lambda: bob.model.floor is not FloorState.TALKING, what="bob cut off")
        assert bob.model.interphone(G58).emergency == "alice"
        code, _, err = await cli("emergency", "group_58", "--cancel", port=server.port,
                                 uid="carol")
        assert code == 1
        assert err.strip().endswith("only its raiser or a dispatcher may cancel the emergency")
        code, out, err = await cli("emergency", "group_58", "--cancel", port=server.port,
                                   uid="alice")
        assert code == 0, err
        assert out.strip() == "emergency of alice on group_58 cancelled"
        await wait_until(lambda: bob.model.interphone(G58).emergency == "", what="cancelled")
        code, _, err = await cli("emergency", "group_58", "--cancel", port=server.port,
                                 uid="alice")
        assert code == 1 and "no emergency is raised on group_58" in err
        records = [(r.action.value, r.raised_by, r.by) for r in server.state.emergency_log[G58]]
        assert records == [("raise", "alice", "alice"), ("cancel", "alice", "alice")]


async def test_talk_cut_off_says_why(clients: Clients, tmp_path):
    """A talk whose floor was taken said only "revoked by the server or connection lost",
    though the server had said who took it, or that the talk time limit was reached."""
    wav = tmp_path / "in.wav"
    write_wav(wav, noise_bursts(3.0))
    async with running_server(max_talk=1) as server:
        code, _, err = await cli("talk", "group_58", "--wav", str(wav), port=server.port,
                                 uid="alice")
        assert code == 1
        assert err.strip().endswith(" s (the talk time limit was reached)"), err
    async with running_server() as server:
        bob = await clients.connect(server.port, "bob", features=FLOOR)
        await bob.join(G58)
        proc = await start_cli("talk", "group_58", "--wav", str(wav), port=server.port,
                               uid="alice")
        await wait_until(lambda: bob.model.floor is FloorState.BUSY, timeout=10,
                         what="alice talking")
        assert await bob.talk_start(emergency=True)
        out, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 1, (out, err)
    assert err.decode().strip().endswith(" s (taken over by bob)"), err.decode()


async def test_listen_reports_each_transmission_in_order(clients: Clients, tmp_path):
    out_wav = tmp_path / "heard.wav"
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        carol = await clients.connect(server.port, "carol")
        for client in (alice, carol):
            await client.join(G58)
        proc = await start_cli("listen", "group_58", "--wav", str(out_wav), "--seconds", "2.5",
                               port=server.port, uid="bob")
        await wait_until(lambda: "bob" in alice.model.members, timeout=5, what="listener in")
        for talker in (alice, carol, alice):
            assert await talker.talk_start()
            await asyncio.sleep(0.2)
            await talker.talk_stop()
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    heard = [line.split()[1] for line in err.decode().splitlines()
             if line.startswith("heard ")]
    assert heard == ["alice", "carol", "alice"]


async def test_listen_joining_during_a_transmission_says_listening_first(
        clients: Clients, tmp_path):
    """Joining while alice spoke printed "heard alice at 0.01 s" before "listening to
    group_58, ...": a script reading the first line for the start got the transmission."""
    out_wav = tmp_path / "heard.wav"
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(G58)
        assert await alice.talk_start()
        proc = await start_cli("listen", "group_58", "--wav", str(out_wav), "--seconds", "0.5",
                               port=server.port, uid="bob")
        _, err = await asyncio.wait_for(proc.communicate(), 15)
        await alice.talk_stop()
    assert proc.returncode == 0, err.decode()
    lines = err.decode().splitlines()
    assert lines[0].startswith("listening to group_58, recording to "), lines
    assert lines[1].startswith("heard alice at "), lines


def emergencies(server) -> list[tuple[str, str, str]]:
    return [(r.action.value, r.raised_by, r.by) for r in server.state.emergency_log.get(G58, ())]


async def test_emergency_alone_stays_raised_until_ctrl_c(clients: Clients):
    """`emergency ID` with nobody else in ID exited at once: its leaving ended the
    interphone, and the emergency with it, before anyone could see it."""
    async with running_server() as server:
        proc = await start_cli("emergency", "group_58", port=server.port, uid="alice")
        await wait_until(lambda: emergencies(server) == [("raise", "alice", "alice")],
                         timeout=10, what="raised")
        await asyncio.sleep(0.5)
        assert proc.returncode is None  # still in group_58: the emergency is up
        assert server.state.interphones[G58].members.keys() == {"alice"}
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, err.decode()
        assert out.decode() == "emergency raised on group_58 by alice\n"
        assert err.decode().splitlines() == [
            "nobody else is in group_58 to hear it: staying in group_58 to keep the emergency "
            "raised until someone joins (Ctrl-C to leave; the emergency ends with it)",
            "leaving group_58: nobody else came, so the emergency ends with it"]
        await wait_until(lambda: G58 not in server.state.interphones, what="ended")
        assert emergencies(server)[-1] == ("cancel", "alice", "")  # ended with the interphone


async def test_emergency_alone_ends_when_someone_joins_and_stays_raised(clients: Clients):
    async with running_server() as server:
        proc = await start_cli("emergency", "group_58", port=server.port, uid="alice")
        assert proc.stderr is not None
        # (bob joins once alice waits alone: joined sooner, he is there when she looks)
        alone = await asyncio.wait_for(proc.stderr.readline(), 10)
        assert alone.decode().startswith("nobody else is in group_58 to hear it")
        assert emergencies(server) == [("raise", "alice", "alice")]
        bob = await clients.connect(server.port, "bob", features=FLOOR)
        await bob.join(G58)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, err.decode()
        assert err.decode().splitlines()[-1] == \
            "bob joined group_58: the emergency stays raised"
        await wait_until(lambda: bob.model.members == ("bob",), what="alice left")
        assert bob.model.interphone(G58).emergency == "alice"  # still up for bob
        code, out, err = await cli("emergency", "group_58", "--seconds", "0.3",
                                   port=server.port, uid="carol")
        assert code == 0 and err == ""  # bob is there: nothing to wait for
        assert out == "emergency raised on group_58 by alice\n"


async def test_emergency_alone_with_seconds_leaves_after_them():
    async with running_server() as server:
        code, out, err = await cli("emergency", "group_58", "--seconds", "0.5",
                                   port=server.port, uid="alice")
        assert code == 0, err
        assert out == "emergency raised on group_58 by alice\n"
        assert err.splitlines()[0].startswith("nobody else is in group_58 to hear it")
        assert err.splitlines()[-1] == \
            "leaving group_58: nobody else came, so the emergency ends with it"


async def test_talk_queue_cut_off_by_a_server_stop_says_the_connection_was_lost(
        clients: Clients, tmp_path):
    """A talk waiting in line when its server stopped (a restart) said "the request for the
    floor was cancelled", as if someone had cancelled it."""
    async with alice_in_line_behind_bob(clients, tmp_path) as (_, proc):
        pass  # the server stops with alice in line
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 1
    assert err.decode().strip().endswith(
        "interphone-cli: error: the connection was lost while waiting for the floor of "
        "group_58"), err.decode()


async def test_ctrl_c_while_waiting_in_line_says_nothing_was_sent(clients: Clients, tmp_path):
    """It said "interrupted after 0.00 s of 0.40 s sent to group_58", as if a talk had
    begun."""
    async with alice_in_line_behind_bob(clients, tmp_path) as (_, proc):
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 130
    assert err.decode().splitlines()[-1] == (
        "interphone-cli: interrupted while waiting for the floor of group_58: nothing was sent")
