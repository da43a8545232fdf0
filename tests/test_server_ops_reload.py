"""Reloading the directory: the rule on ServerState, and SIGHUP on a real server process."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import pytest
from server_fixtures import (
    D12,
    G58,
    TEST_TOML,
    RawClient,
    sample_directory,
    start_server_process,
)

from app.protocol.messages import InterphoneChanged, Kicked, Login, QuitRequest, QuitResult
from app.server import Directory, ServerSettings, ServerState
from app.server.coalesce import COALESCE, NOTIFY_WINDOW
from app.server.directory_changes import DirectoryChanges
from app.server.outbox import Outbox, Refused
from app.server.state import ACCOUNT_REMOVED

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5)

WITHOUT_BOB = TEST_TOML.replace('[[users]]\nuid = "bob"\nname = "Bob"\ntoken = "pw-bob"\n\n', "") \
    .replace('"alice", "bob", "carol"', '"alice", "carol"').replace('"alice", "bob", "dave"',
                                                                  '"alice", "dave"')
WITH_FRANK = TEST_TOML + '\n[[users]]\nuid = "frank"\nname = "Frank"\ntoken = "pw-frank"\n'
CAROL_OUT_OF_58 = TEST_TOML.replace('"alice", "bob", "carol"', '"alice", "bob"')
ALICE_NEW_TOKEN = TEST_TOML.replace('token = "pw-alice"', 'token = "new-alice"')


def directory(text: str) -> Directory:
    return Directory.from_toml_text(text, source="reloaded.toml")


def state_with(*uids: str) -> tuple[ServerState, dict[str, int]]:
    state = ServerState(sample_directory(), SETTINGS, udp_port=9400)
    sids = {}
    for number, uid in enumerate(uids, 1):
        state.login(number, uid, f"pw-{uid}", "127.0.0.1")
        sids[uid] = number
    return state, sids


async def notification_where(client: RawClient, wanted: object, timeout: float = 5.0) -> object:
    """The first notification body ``wanted`` accepts (a type, or a predicate)."""
    while True:
        body = (await client.next_notification(timeout)).body
        if (isinstance(wanted, type) and isinstance(body, wanted)) or (
                not isinstance(wanted, type) and callable(wanted) and wanted(body)):
            return body


def sent_to(outbox: Outbox, sid: int) -> list[object]:
    return [message.body for target, message in outbox.messages if target == sid]


# ---- the rule ------------------------------------------------------------------------------


def test_removed_user_is_kicked_with_a_reason_and_leaves_its_interphones() -> None:
    state, sids = state_with("alice", "bob")
    state.join(sids["alice"], G58)
    state.join(sids["bob"], G58)
    state.speak(sids["bob"], G58, True, 0.0)
    outbox = state.replace_directory(directory(WITHOUT_BOB), 1.0)
    assert sent_to(outbox, sids["bob"]) == [Kicked(ACCOUNT_REMOVED)]
    assert sids["bob"] in outbox.closes
    assert "bob" not in state.by_uid and sids["bob"] not in state.sessions
    record = state.interphones[G58]
    assert list(record.members) == ["alice"] and record.holder == ""
    told = [b for b in sent_to(outbox, sids["alice"]) if isinstance(b, InterphoneChanged)]
    assert told and told[-1].info.member_count == 1 and told[-1].info.speaker == ""
    with pytest.raises(Refused, match="login refused"):
        state.login(5, "bob", "pw-bob", "127.0.0.1")


def test_added_user_may_log_in_after_the_reload() -> None:
    state, _ = state_with("alice")
    with pytest.raises(Refused, match="login refused"):
        state.login(7, "frank", "pw-frank", "127.0.0.1")
    state.replace_directory(directory(WITH_FRANK), 1.0)
    assert state.login(7, "frank", "pw-frank", "127.0.0.1").reply.uid == "frank"


def test_member_removed_from_a_group_leaves_it_and_the_others_are_told() -> None:
    state, sids = state_with("alice", "bob", "carol")
    for uid in ("alice", "carol"):
        state.join(sids[uid], G58)
    state.sync(sids["bob"], (G58,))
    state.sync(sids["carol"], (G58, D12))
    outbox = state.replace_directory(directory(CAROL_OUT_OF_58), 1.0)
    assert list(state.interphones[G58].members) == ["alice"]
    assert G58 not in state.sessions[sids["carol"]].joined
    assert sids["carol"] in state.sessions  # still logged in: only the membership ended
    for uid in ("alice", "bob"):  # a member and a watcher: both hear the new count
        changed = [b for b in sent_to(outbox, sids[uid]) if isinstance(b, InterphoneChanged)]
        assert [c.info.member_count for c in changed] == [1], uid
    assert G58 not in state.sessions[sids["carol"]].subscriptions
    assert sids["carol"] not in state.watchers.get(G58, {})
    assert not [b for b in sent_to(outbox, sids["carol"]) if isinstance(b, Kicked)]


def changes_to(outbox: Outbox, sid: int) -> list[tuple[int, str, tuple[str, ...] | None]]:
    return [(b.info.member_count, b.info.speaker, b.info.members)
            for b in sent_to(outbox, sid) if isinstance(b, InterphoneChanged)]


def changes_of(outbox: Outbox, interphone: object) -> list[tuple[int, tuple[str, ...] | None]]:
    """(receiver, members) of every change notification of ``interphone``, in order."""
    return [(target, message.body.info.members) for target, message in outbox.messages
            if isinstance(message.body, InterphoneChanged) and message.body.info.id == interphone]


def test_the_removed_member_is_told_the_change_with_the_list_that_no_longer_names_it() -> None:
    state, sids = state_with("alice", "bob", "carol")
    for uid in ("alice", "bob", "carol"):
        state.join(sids[uid], G58)
    outbox = state.replace_directory(directory(CAROL_OUT_OF_58), 1.0)
    for uid in ("alice", "bob", "carol"):  # one notification each, the same one
        assert changes_to(outbox, sids[uid]) == [(2, "", ("alice", "bob"))], uid
    assert G58 not in state.sessions[sids["carol"]].joined


def test_a_removed_watcher_is_told_once_as_a_member_not_also_by_count() -> None:
    state, sids = state_with("alice", "carol")
    state.join(sids["alice"], G58)
    state.join(sids["carol"], G58)
    state.sync(sids["carol"], (G58, D12))  # she also watches it
    outbox = state.replace_directory(directory(CAROL_OUT_OF_58), 1.0)
    assert changes_to(outbox, sids["carol"]) == [(1, "", ("alice",))]


def test_a_removed_holder_is_told_by_the_floor_change_that_releases_it() -> None:
    state, sids = state_with("alice", "carol")
    state.join(sids["alice"], G58)
    state.join(sids["carol"], G58)
    assert state.speak(sids["carol"], G58, True, 0.5).reply
    outbox = state.replace_directory(directory(CAROL_OUT_OF_58), 1.0)
    assert state.interphones[G58].holder == ""
    for uid in ("alice", "carol"):
        assert changes_to(outbox, sids[uid]) == [(1, "", ("alice",))], uid


def test_the_last_member_removed_is_told_the_interphone_ended() -> None:
    state, sids = state_with("carol")
    state.join(sids["carol"], G58)
    outbox = state.replace_directory(directory(CAROL_OUT_OF_58), 1.0)
    assert G58 not in state.interphones
    assert [(count, members or ()) for count, _, members in changes_to(outbox, sids["carol"])] \
        == [(0, ())]


def test_a_removed_coalescing_member_is_told_at_once_with_the_others() -> None:
    state = ServerState(sample_directory(), SETTINGS, udp_port=9400)
    state.now = 100.0
    for sid, uid in enumerate(("alice", "bob", "carol"), 1):
        state.login(sid, uid, f"pw-{uid}", "127.0.0.1", (COALESCE,))
        state.join(sid, G58)  # (the later joins are held: the window is open)
    outbox = state.replace_directory(directory(CAROL_OUT_OF_58), 100.0)
    assert changes_of(outbox, G58) == [(1, ("alice", "bob")), (2, ("alice", "bob")),
                                       (3, ("alice", "bob"))]
    assert changes_of(state.handle_timer(100.0 + NOTIFY_WINDOW), G58) == []  # none held


def test_a_quitter_and_an_ending_session_are_told_nothing_new() -> None:
    state, sids = state_with("alice", "bob", "carol")
    for uid in ("alice", "bob", "carol"):
        state.join(sids[uid], G58)
    state.sync(sids["carol"], (G58,))
    quit_ = state.quit(sids["carol"], G58)
    assert isinstance(quit_.reply, QuitResult) and quit_.reply.info.member_count == 2
    assert changes_to(quit_.outbox, sids["carol"]) == [(2, "", None)]  # a watcher: the count
    assert changes_to(quit_.outbox, sids["alice"]) == [(2, "", ("alice", "bob"))]
    ended = state.logout(sids["bob"])
    assert changes_to(ended, sids["bob"]) == []
    assert changes_to(ended, sids["alice"]) == [(1, "", ("alice",))]


def test_changed_token_keeps_the_session_and_applies_at_the_next_login() -> None:
    state, sids = state_with("alice")
    state.join(sids["alice"], G58)
    outbox = state.replace_directory(directory(ALICE_NEW_TOKEN), 1.0)
    assert sids["alice"] in state.sessions and not outbox.closes and not outbox.messages
    with pytest.raises(Refused, match="login refused"):
        state.login(9, "alice", "pw-alice", "127.0.0.1")
    assert state.login(9, "alice", "new-alice", "127.0.0.1").reply.uid == "alice"


def test_open_mode_kicks_nobody_for_a_removed_user() -> None:
    state = ServerState(sample_directory(), SETTINGS.with_overrides(auth="open"))
    state.login(1, "bob", "anything", "127.0.0.1")
    outbox = state.replace_directory(directory(WITHOUT_BOB), 1.0)
    assert 1 in state.sessions and not outbox.closes


def test_one_log_line_names_the_changes_and_never_a_token() -> None:
    text = WITHOUT_BOB.replace('token = "pw-alice"', 'token = "new-alice"') + (
        '\n[[users]]\nuid = "frank"\ntoken = "pw-frank"\n')
    state, _ = state_with("alice", "bob")
    outbox = state.replace_directory(directory(text), 1.0)
    summary = [line for line in outbox.log_lines if line.startswith("directory reloaded")]
    assert len(summary) == 1
    line = summary[0]
    assert "users +1 (frank)" in line and "users -1 (bob)" in line
    assert "tokens changed 1 (alice)" in line and "groups changed 1 (58)" in line
    assert "discussions changed 1 (12)" in line and "1 session(s) kicked" in line
    assert not re.search(r"pw-|new-alice", "\n".join(outbox.log_lines))


def test_settings_are_reported_but_kept() -> None:
    state, _ = state_with("alice")
    changed = directory(TEST_TOML.replace("max_talk = 60", "max_talk = 5"))
    outbox = state.replace_directory(changed, 1.0)
    assert state.settings.max_talk == 60
    # one item of the line's comma-separated list, its names right after its count
    assert "settings changed 1 (max_talk): kept until the next start;" in outbox.log_lines[-1]
    assert "settings changed," not in outbox.log_lines[-1]


def test_no_change_says_so() -> None:
    assert DirectoryChanges.between(sample_directory(), sample_directory()).describe() \
        == "no change"
    assert not DirectoryChanges.between(sample_directory(), sample_directory())


# ---- SIGHUP on a real process --------------------------------------------------------------


class ServerProcess:
    """``python -m app.server --config FILE`` with its stderr read line by line."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, lines: list[str]) -> None:
        self.process = process
        self.port = port
        self.lines = lines

    @classmethod
    async def start(cls, *args: str) -> ServerProcess:
        process, port, lines = await start_server_process(
            *args, timeout=15, stdout=asyncio.subprocess.DEVNULL)
        return cls(process, port, lines)

    async def line_matching(self, pattern: str, timeout: float = 10.0) -> str:
        assert self.process.stderr is not None
        while True:
            raw = await asyncio.wait_for(self.process.stderr.readline(), timeout)
            assert raw, "server exited: " + "".join(self.lines)
            self.lines.append(raw.decode())
            if re.search(pattern, self.lines[-1]):
                return self.lines[-1]

    async def stop(self) -> str:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(self.process.communicate(), 15)
        assert self.process.returncode == 0
        return "".join(self.lines) + err.decode()


pytestmark_posix = pytest.mark.skipif(sys.platform == "win32", reason="SIGHUP is POSIX")


@pytestmark_posix
async def test_sighup_lets_a_new_user_in_and_kicks_a_removed_one(tmp_path: Path) -> None:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    server = await ServerProcess.start("--config", str(config))
    alice = await RawClient.connect(server.port)
    bob = await RawClient.connect(server.port)
    frank = await RawClient.connect(server.port)
    try:
        await alice.login("alice")
        await bob.login("bob")
        await alice.join(G58)
        await bob.join(G58)
        refused = await frank.request(Login("frank", "pw-frank"))
        assert not refused.ok
        config.write_text(WITHOUT_BOB + '\n[[users]]\nuid = "frank"\ntoken = "pw-frank"\n')
        server.process.send_signal(signal.SIGHUP)
        line = await server.line_matching(r"directory reloaded")
        assert "users +1 (frank)" in line and "users -1 (bob)" in line
        assert await notification_where(bob, Kicked) == Kicked(ACCOUNT_REMOVED)
        assert await bob.closed_by_server(5)
        changed = await notification_where(
            alice, lambda b: isinstance(b, InterphoneChanged) and b.info.members == ("alice",))
        assert isinstance(changed, InterphoneChanged) and changed.info.member_count == 1
        assert (await frank.login("frank", "pw-frank")).uid == "frank"
        again = await RawClient.connect(server.port)
        assert not (await again.request(Login("bob", "pw-bob"))).ok
        await again.close()
    finally:
        for client in (alice, bob, frank):
            await client.close()
        log = await server.stop()
    assert "pw-" not in log and "Traceback" not in log


@pytestmark_posix
async def test_sighup_tells_a_member_removed_from_a_group_and_the_others(tmp_path: Path) -> None:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    server = await ServerProcess.start("--config", str(config))
    clients = {uid: await RawClient.connect(server.port) for uid in ("alice", "bob", "carol")}
    try:
        for uid, client in clients.items():
            await client.login(uid)
            await client.join(G58)
        await notification_where(clients["alice"], lambda b: isinstance(b, InterphoneChanged)
                                 and b.info.member_count == 3)
        config.write_text(CAROL_OUT_OF_58)
        server.process.send_signal(signal.SIGHUP)
        await server.line_matching(r"directory reloaded")
        for uid, client in clients.items():
            changed = await notification_where(
                client, lambda b: isinstance(b, InterphoneChanged) and b.info.id == G58
                and b.info.member_count == 2)
            assert isinstance(changed, InterphoneChanged)
            assert changed.info.members == ("alice", "bob"), uid
        quit_ = await clients["carol"].request(QuitRequest(G58))
        assert not quit_.ok  # she is out: 404, as for any membership she does not hold
    finally:
        for client in clients.values():
            await client.close()
        await server.stop()


@pytestmark_posix
async def test_sighup_with_a_bad_file_keeps_the_old_directory(tmp_path: Path) -> None:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    server = await ServerProcess.start("--config", str(config))
    alice = await RawClient.connect(server.port)
    try:
        await alice.login("alice")
        broken = WITH_FRANK.replace('"alice", "bob", "dave"', '"alice", "zed"')
        config.write_text(broken)
        line_no = next(n for n, text in enumerate(broken.splitlines(), 1) if "zed" in text)
        server.process.send_signal(signal.SIGHUP)
        line = await server.line_matching(r"reload refused")
        assert f"line {line_no}" in line and "unknown member 'zed'" in line
        assert not await alice.closed_by_server(0.3)
        bob = await RawClient.connect(server.port)
        assert (await bob.login("bob")).uid == "bob"  # the old directory still serves
        frank = await RawClient.connect(server.port)
        assert not (await frank.request(Login("frank", "pw-frank"))).ok
        await bob.close()
        await frank.close()
    finally:
        await alice.close()
        log = await server.stop()
    assert "directory reloaded" not in log
