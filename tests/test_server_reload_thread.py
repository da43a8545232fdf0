"""A directory reload (SIGHUP) reads and prepares the file in a thread, then swaps it in on
the event loop: clients are answered during the read, reloads apply in the order asked,
a bad file keeps the directory in use, a stop during a read serves nothing (real server,
raw clients; the read is held on an Event to make it observable)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from pathlib import Path

import pytest
from server_fixtures import (
    G58,
    TEST_TOML,
    RawClient,
    running_server,
    start_server_process,
    stop_server_process,
)

from app.protocol.messages import Login, MembersRequest
from app.server import Directory
from app.server.app import InterphoneServer
from app.server.directory_reload import DirectoryReloads

WITH_FRANK = TEST_TOML + '\n[[users]]\nuid = "frank"\nname = "Frank"\ntoken = "pw-frank"\n'
WITH_GINA = TEST_TOML + '\n[[users]]\nuid = "gina"\nname = "Gina"\ntoken = "pw-gina"\n'


class HeldRead:
    """Reads the file at once, then holds the first read until :attr:`release` is set
    (at most 20 s, so that a read on the loop's thread could not hang the test)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.reads = 0

    def __call__(self, path: Path) -> Directory:
        directory = Directory.from_toml_file(path)
        self.reads += 1
        if self.reads == 1:
            self.entered.set()
            self.release.wait(20)
        return directory


async def until(condition: object, timeout: float = 20.0) -> None:
    async def wait() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)
    await asyncio.wait_for(wait(), timeout)


async def entered(read: HeldRead) -> None:
    await asyncio.wait_for(asyncio.to_thread(read.entered.wait, 20), 25)


def users(server: InterphoneServer) -> set[str]:
    return set(server.state.directory.users)


async def test_the_read_hands_the_gil_to_the_loop_often_and_then_as_before(
        tmp_path: Path) -> None:
    # parsing the file is pure Python: with the default 5 ms switch interval the loop took
    # the GIL back only that long after each of its system calls (answers took 100-160 ms)
    from app.server import directory_reload
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    before = sys.getswitchinterval()
    async with running_server(Directory.from_toml_file(config)) as server:
        config.write_text(WITH_FRANK)
        read = HeldRead()
        reloads = DirectoryReloads(server, config, read=read)
        reloads.request()
        await entered(read)
        assert sys.getswitchinterval() == pytest.approx(directory_reload.READ_SWITCH_INTERVAL)
        read.release.set()
        await until(lambda: reloads.applied == 1)
        assert sys.getswitchinterval() == pytest.approx(before)


async def test_a_request_is_answered_while_the_reload_reads_the_file(tmp_path: Path) -> None:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    async with running_server(Directory.from_toml_file(config)) as server:
        alice = await RawClient.connect(server.port)
        try:
            await alice.login("alice")
            config.write_text(WITH_FRANK)
            read = HeldRead()
            reloads = DirectoryReloads(server, config, read=read)
            reloads.request()
            await entered(read)
            answer = await alice.request(MembersRequest(G58), timeout=10)
            assert answer.ok, answer
            assert not read.release.is_set() and reloads.reading  # answered mid-read
            assert "frank" not in users(server)  # the old directory serves until the swap
            read.release.set()
            await until(lambda: reloads.applied == 1)
            assert "frank" in users(server)
            frank = await RawClient.connect(server.port)
            assert (await frank.login("frank", "pw-frank")).uid == "frank"
            await frank.close()
        finally:
            await alice.close()


async def test_two_quick_reloads_serve_the_last_file_read_and_never_an_older_one(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    caplog.set_level(logging.INFO, "app.server")
    async with running_server(Directory.from_toml_file(config)) as server:
        config.write_text(WITH_FRANK)
        read = HeldRead()
        reloads = DirectoryReloads(server, config, read=read)
        reloads.request()
        await entered(read)  # the first read has frank's file, and is held
        config.write_text(WITH_GINA)
        reloads.request()  # the second SIGHUP, during the first read
        read.release.set()
        await until(lambda: reloads.applied == 2)
        assert "gina" in users(server) and "frank" not in users(server)
        assert read.reads == 2
        served = [r.getMessage() for r in caplog.records if "directory reloaded" in r.getMessage()]
        assert len(served) == 1 and "gina" in served[0], served  # frank's never served


async def test_a_bad_file_keeps_the_directory_in_use_and_a_later_good_one_applies(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    async with running_server(Directory.from_toml_file(config)) as server:
        before = server.state.directory
        config.write_text(WITH_FRANK.replace('"alice", "bob", "dave"', '"alice", "zed"'))
        reloads = DirectoryReloads(server, config)
        reloads.request()
        await until(lambda: reloads.applied == 1)
        assert server.state.directory is before
        assert "reload refused" in caplog.text and "unknown member 'zed'" in caplog.text
        bob = await RawClient.connect(server.port)
        assert (await bob.login("bob")).uid == "bob"
        await bob.close()
        config.write_text(WITH_FRANK)
        reloads.request()
        await until(lambda: reloads.applied == 2)
        assert "frank" in users(server)


async def test_a_stop_during_a_read_serves_nothing_and_does_not_wait_for_it(
        tmp_path: Path) -> None:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    read = HeldRead()
    try:
        async with running_server(Directory.from_toml_file(config)) as server:
            before = server.state.directory
            config.write_text(WITH_FRANK)
            reloads = DirectoryReloads(server, config, read=read)
            reloads.request()
            await entered(read)
            reloads.cancel()
        assert not reloads.reading
        read.release.set()
        await asyncio.sleep(0.2)  # the thread's result comes to a cancelled wait: dropped
        assert server.state.directory is before
    finally:
        read.release.set()


async def test_the_sessions_contacts_are_made_in_the_thread_not_on_the_loop(
        tmp_path: Path) -> None:
    """Presence after a reload: each session's contacts are the directory's set for its
    uid, made by the reload's thread before the swap (the loop rebuilt a set of a
    thousand contacts per session: ~0.6 s for 465 sessions)."""
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    async with running_server(Directory.from_toml_file(config)) as server:
        clients = {uid: await RawClient.connect(server.port) for uid in ("alice", "bob")}
        try:
            for uid, client in clients.items():
                reply = await client.request(Login(uid, f"pw-{uid}",
                                                   features=("roster", "presence")))
                assert reply.ok, reply
            config.write_text(WITH_FRANK)
            prepared: list[set[str]] = []
            swap = server.replace_directory

            def replace_directory(directory: Directory) -> None:
                # what the loop finds made when the new directory is swapped in
                prepared.append({uid for uid, _ in directory._contact_ids})
                swap(directory)

            server.replace_directory = replace_directory  # type: ignore[method-assign]
            reloads = DirectoryReloads(server, config)
            reloads.request()
            await until(lambda: reloads.applied == 1)
            assert prepared == [{"alice", "bob"}]
            state = server.state
            for session in state.sessions.values():
                contacts = state.presence.contacts_of[session.sid]
                assert contacts is state.directory.contact_ids(session.uid, "token")
                assert "frank" in contacts
        finally:
            for client in clients.values():
                await client.close()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGHUP is POSIX")
async def test_sighups_in_quick_succession_then_sigterm_on_a_real_process(
        tmp_path: Path) -> None:
    """Two SIGHUPs sent at once serve the second file; a SIGTERM right after a SIGHUP ends
    the process cleanly (exit 0, no traceback), whether the read was over or not."""
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    process, port, lines = await start_server_process("--config", str(config),
                                                      stdout=asyncio.subprocess.DEVNULL)
    assert process.stderr is not None
    try:
        config.write_text(WITH_FRANK)
        process.send_signal(signal.SIGHUP)
        config.write_text(WITH_GINA)
        process.send_signal(signal.SIGHUP)
        while True:
            line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
            assert line, "the server exited: " + "".join(lines)
            lines.append(line)
            if "directory reloaded" in line and "gina" in line:
                break
        gina = await RawClient.connect(port)
        assert (await gina.login("gina", "pw-gina")).uid == "gina"
        frank = await RawClient.connect(port)
        assert not (await frank.request(Login("frank", "pw-frank"))).ok
        await gina.close()
        await frank.close()
        config.write_text(WITH_FRANK)
        process.send_signal(signal.SIGHUP)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, "".join(lines) + err.decode()
        assert "Traceback" not in "".join(lines) + err.decode()
    finally:
        if process.returncode is None:
            await stop_server_process(process)


async def test_a_reload_whose_swap_fails_is_logged_and_the_next_sighup_still_applies(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "directory.toml"
    config.write_text(WITH_FRANK)
    async with running_server(Directory.from_toml_file(config)) as server:
        swap = server.replace_directory
        calls: list[Directory] = []

        def replace_directory(directory: Directory) -> None:
            calls.append(directory)
            if len(calls) == 1:
                raise RuntimeError("a defect")
            swap(directory)

        server.replace_directory = replace_directory  # type: ignore[method-assign]
        reloads = DirectoryReloads(server, config)
        reloads.request()
        await until(lambda: reloads.applied == 1)
        assert "serving the reloaded directory failed" in caplog.text
        config.write_text(WITH_GINA)
        reloads.request()
        await until(lambda: reloads.applied == 2)
        assert "gina" in users(server)
