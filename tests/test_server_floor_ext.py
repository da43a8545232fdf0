"""The floor extensions over real sockets (docs/protocol-extensions.md: floor-queue,
priority, emergency): queue order, expiry, pre-emption, emergency raise and cancel,
disconnects of a queued or pre-empting user, and a base client that still gets 409."""

from __future__ import annotations

import asyncio
from typing import Any

from server_fixtures import RawClient, UdpPeer, running_server

from app.protocol import (
    AudioPacket,
    InterphoneId,
    Login,
    LoginResult,
    RecvBeginPacket,
    parse_packet,
)
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    EmergencyState,
    ErrorReply,
    FloorNotice,
    FloorNoticeType,
    InterphoneChanged,
    Message,
    SpeakRequest,
    SpeakResult,
)
from app.server import Directory

TOML = """\
[server]
auth = "token"
dispatcher_level = 8

[[users]]
uid = "alice"
token = "pw-alice"

[[users]]
uid = "bob"
token = "pw-bob"

[[users]]
uid = "carol"
token = "pw-carol"

[[users]]
uid = "dave"
token = "pw-dave"
priority = 3

[[users]]
uid = "disp"
token = "pw-disp"
priority = 9

[[groups]]
id = "58"
members = ["*"]
queue_limit = 2

[[groups]]
id = "ops"
members = ["*"]
preemptible = true
"""

ALL = "floor-queue priority emergency"
G58 = InterphoneId.group("58")
OPS = InterphoneId.group("ops")


def directory() -> Directory:
    return Directory.from_toml_text(TOML, source="floor.toml")


async def client(port: int, uid: str, features: str = ALL) -> RawClient:
    raw = await RawClient.connect(port)
    reply = await raw.request(Login(uid, f"pw-{uid}", features=tuple(features.split())))
    assert reply.ok and isinstance(reply.body, LoginResult), reply
    raw.uid = uid
    return raw


async def joined(port: int, interphone: InterphoneId, *specs: tuple[str, str]) -> list[RawClient]:
    clients = [await client(port, uid, features) for uid, features in specs]
    for raw in clients:
        await raw.join(interphone)
    await asyncio.sleep(0.05)
    for raw in clients:
        raw.drain()
    return clients


async def ask(raw: RawClient, interphone: InterphoneId, **kw: Any) -> Message:
    return await raw.request(SpeakRequest(True, interphone, **kw))


async def notes(raw: RawClient, count: int) -> list[Any]:
    return [(await raw.next_notification()).body for _ in range(count)]


def floor(interphone: InterphoneId, kind: FloorNoticeType, **kw: Any) -> FloorNotice:
    return FloorNotice(interphone, kind, **kw)


async def close_all(*clients: RawClient) -> None:
    for raw in clients:
        await raw.close()


async def test_login_grants_the_floor_features_and_states_the_level() -> None:
    async with running_server(directory()) as server:
        disp = await RawClient.connect(server.port)
        reply = (await disp.request(Login("disp", "pw-disp", features=tuple(ALL.split())))).body
        assert isinstance(reply, LoginResult)
        assert (reply.features, reply.priority, reply.dispatcher) == (
            ("emergency", "floor-queue", "priority"), 9, True)
        dave = await RawClient.connect(server.port)
        reply = (await dave.request(Login("dave", "pw-dave", features=("floor-queue",)))).body
        assert isinstance(reply, LoginResult)
        assert (reply.features, reply.priority, reply.dispatcher) == (("floor-queue",), None,
                                                                      False)
        await close_all(disp, dave)


async def test_queue_order_hand_over_and_positions() -> None:
    async with running_server(directory()) as server:
        alice, bob, carol = await joined(server.port, G58, ("alice", ALL), ("bob", ALL),
                                         ("carol", ALL))
        assert (await ask(alice, G58)).body == SpeakResult(True, G58)
        assert (await ask(bob, G58, queue=True)).body == SpeakResult(True, G58, True, 1)
        assert (await ask(carol, G58, queue=True)).body == SpeakResult(True, G58, True, 2)
        # asking again keeps the place
        assert (await ask(carol, G58, queue=True)).body == SpeakResult(True, G58, True, 2)
        assert server.state.interphones[G58].floor.queue == ("bob", "carol")
        bob.drain()
        carol.drain()
        assert (await alice.request(SpeakRequest(False, G58))).ok
        granted, change = await notes(bob, 2)
        assert granted == floor(G58, FloorNoticeType.GRANTED)
        assert isinstance(change, InterphoneChanged) and change.info.speaker == "bob"
        change, moved = await notes(carol, 2)
        assert change.info.speaker == "bob"  # one hand-over, no speaker='' in between
        assert moved == floor(G58, FloorNoticeType.QUEUED, position=1)
        assert server.state.interphones[G58].holder == "bob"
        # releasing the key while waiting leaves the line
        assert (await carol.request(SpeakRequest(False, G58))).ok
        assert server.state.interphones[G58].floor.queue == ()
        await close_all(alice, bob, carol)


async def test_full_line_is_409_queue_full_and_base_client_still_gets_409() -> None:
    async with running_server(directory()) as server:
        alice, bob, carol, dave, eve = await joined(
            server.port, G58, ("alice", ALL), ("bob", ALL), ("carol", ALL),
            ("dave", "floor-queue"), ("disp", ""))
        await ask(alice, G58)
        await ask(bob, G58, queue=True)
        await ask(carol, G58, queue=True)
        full = (await ask(dave, G58, queue=True)).body  # queue_limit = 2, dave ranks last
        assert isinstance(full, ErrorReply)
        assert (full.errcode, full.holder, full.reason) == (409, "alice", "queue_full")
        base = (await ask(eve, G58, queue=True)).body  # no extension: queue is ignored
        assert isinstance(base, ErrorReply)
        assert (base.errcode, base.errmsg, base.holder, base.reason) == (
            409, "alice is speaking", "alice", "")
        # the base session sees only base messages: the change notification of a hand-over
        eve.drain()
        await alice.request(SpeakRequest(False, G58))
        change = (await eve.next_notification()).body
        assert isinstance(change, InterphoneChanged) and change.info.speaker == "bob"
        assert change.info.emergency == ""
        assert await eve.no_notification()
        await close_all(alice, bob, carol, dave, eve)


async def test_a_waiting_request_expires() -> None:
    async with running_server(directory(), queue_timeout=0.3) as server:
        alice, bob, carol = await joined(server.port, G58, ("alice", ALL), ("bob", ALL),
                                         ("carol", ALL))
        await ask(alice, G58)
        await ask(bob, G58, queue=True)
        await asyncio.sleep(0.15)
        await ask(carol, G58, queue=True)
        bob.drain()
        carol.drain()
        assert (await bob.next_notification()).body == floor(
            G58, FloorNoticeType.LEFT, reason="timeout")
        assert (await carol.next_notification()).body == floor(
            G58, FloorNoticeType.QUEUED, position=1)
        assert (await carol.next_notification()).body == floor(
            G58, FloorNoticeType.LEFT, reason="timeout")
        assert server.state.interphones[G58].floor.queue == ()
        assert server.state.interphones[G58].holder == "alice"
        await close_all(alice, bob, carol)


async def _register(server: Any, uid: str) -> UdpPeer:
    peer = await UdpPeer.open(server.port)
    peer.send(RecvBeginPacket(str(OPS), uid).serialize())
    await peer.recv()
    return peer


async def test_pre_emption_stops_the_old_holders_audio_at_once() -> None:
    async with running_server(directory()) as server:
        alice, dave, bob = await joined(server.port, OPS, ("alice", ALL), ("dave", ALL),
                                        ("bob", ""))
        peers = {uid: await _register(server, uid) for uid in ("alice", "dave", "bob")}
        await ask(alice, OPS)
        peers["alice"].send(AudioPacket(str(OPS), "alice", 0, b"a0").serialize())
        assert parse_packet(await peers["bob"].recv()).uid == "alice"
        await asyncio.sleep(0.05)
        alice.drain()
        bob.drain()
        # a base holder (bob, level 0) cannot pre-empt, dave (3) can
        assert (await ask(bob, OPS)).body.errcode == 409
        assert (await ask(dave, OPS)).body == SpeakResult(True, OPS)
        revoked, change = await notes(alice, 2)
        assert revoked == floor(OPS, FloorNoticeType.REVOKED, reason="preempted", by="dave")
        assert change.info.speaker == "dave"
        assert (await bob.next_notification()).body.info.speaker == "dave"
        peers["alice"].send(AudioPacket(str(OPS), "alice", 1, b"a1").serialize())
        assert await peers["bob"].nothing()
        peers["dave"].send(AudioPacket(str(OPS), "dave", 0, b"d0").serialize())
        assert parse_packet(await peers["bob"].recv()).uid == "dave"
        # the pre-empted holder is not put in line
        assert server.state.interphones[OPS].floor.queue == ()
        for peer in peers.values():
            peer.close()
        await close_all(alice, dave, bob)


async def test_group_that_is_not_preemptible_orders_the_line_by_level() -> None:
    async with running_server(directory()) as server:
        alice, bob, dave = await joined(server.port, G58, ("alice", ALL), ("bob", ALL),
                                        ("dave", ALL))
        await ask(alice, G58)
        await ask(bob, G58, queue=True)
        await asyncio.sleep(0.05)
        bob.drain()
        assert (await ask(dave, G58, queue=True)).body == SpeakResult(True, G58, True, 1)
        assert (await bob.next_notification()).body == floor(
            G58, FloorNoticeType.QUEUED, position=2)
        assert server.state.interphones[G58].holder == "alice"
        await close_all(alice, bob, dave)


async def test_emergency_raise_pre_empts_alerts_and_is_cancelled_by_a_dispatcher() -> None:
    async with running_server(directory()) as server:
        alice, bob, carol, disp = await joined(
            server.port, G58, ("alice", ALL), ("bob", ALL), ("carol", ""), ("disp", ALL))
        await ask(alice, G58)
        await asyncio.sleep(0.05)
        for raw in (alice, bob, carol, disp):
            raw.drain()
        assert (await ask(bob, G58, emergency=True)).body == SpeakResult(True, G58)
        first = server.state.interphones[G58].floor.emergency_id
        assert first  # the server named this emergency
        raise_note = EmergencyState(EmergencyAction.RAISE, G58, "bob", emergency_id=first)
        emergency, revoked, change = await notes(alice, 3)
        assert emergency == raise_note
        assert revoked == floor(G58, FloorNoticeType.REVOKED, reason="preempted", by="bob")
        assert (change.info.speaker, change.info.emergency, change.info.emergency_id) == (
            "bob", "bob", first)
        emergency, change = await notes(bob, 2)
        assert emergency == raise_note and change.info.emergency == "bob"
        change = (await carol.next_notification()).body  # base: the change, no attribute
        assert (change.info.speaker, change.info.emergency, change.info.emergency_id) == (
            "bob", "", "")
        assert await carol.no_notification()
        # an emergency grant is not pre-empted, not even by another emergency request
        assert (await ask(disp, G58, emergency=True)).body.errcode == 409
        # the members view carries the raiser for late readers
        late = await client(server.port, "dave")
        joined_info = (await late.join(G58)).body.info
        assert (joined_info.emergency, joined_info.emergency_id) == ("bob", first)
        # a second raise changes nothing and names the first raiser
        second = (await alice.request(EmergencyRequest(EmergencyAction.RAISE, G58))).body
        assert second == raise_note
        # only the raiser or a dispatcher may cancel
        refused = (await alice.request(EmergencyRequest(EmergencyAction.CANCEL, G58))).body
        assert isinstance(refused, ErrorReply) and refused.errcode == 403
        disp.drain()
        cancelled = (await disp.request(EmergencyRequest(EmergencyAction.CANCEL, G58))).body
        assert cancelled == EmergencyState(EmergencyAction.CANCEL, G58, "bob", "disp", first)
        assert (await disp.next_notification()).body == cancelled
        none = (await disp.request(EmergencyRequest(EmergencyAction.CANCEL, G58))).body
        assert isinstance(none, ErrorReply) and none.errcode == 404
        records = [(r.action.value, r.raised_by, r.by, r.id)
                   for r in server.state.emergency_log[G58]]
        assert records == [("raise", "bob", "bob", first), ("cancel", "bob", "disp", first)]
        # after the cancel the grant is ordinary: an emergency request pre-empts it
        assert (await ask(alice, G58, emergency=True)).ok
        assert server.state.interphones[G58].holder == "alice"
        # bob raising again: a new emergency, a new id (a client that silenced the first
        # one alarms again)
        await alice.request(EmergencyRequest(EmergencyAction.CANCEL, G58))
        bob.drain()
        again = (await bob.request(EmergencyRequest(EmergencyAction.RAISE, G58))).body
        assert again.by == "bob" and again.emergency_id not in ("", first)
        assert (await bob.next_notification()).body == again
        await close_all(alice, bob, carol, disp, late)


async def test_a_bad_flag_value_is_400_only_for_a_session_granted_its_extension() -> None:
    async with running_server(directory()) as server:
        alice, bob, carol = await joined(server.port, G58, ("alice", ""), ("bob", "floor-queue"),
                                         ("carol", "emergency"))
        speak = ("<message type='request' seq='{seq}' module='MID_INTERPHONE'>"
                 "<speak type='on' id='group_58' {flags}/></message>")

        async def ask_xml(raw: RawClient, seq: str, flags: str) -> Message:
            return await raw.request_xml(speak.format(seq=seq, flags=flags), seq)

        # a base session: unknown attributes, ignored (PROTOCOL.md section 6)
        granted = await ask_xml(alice, "b1", "queue='yes' emergency='2'")
        assert granted.ok and granted.body == SpeakResult(True, G58)
        busy = (await ask_xml(bob, "q0", "emergency='2'")).body  # not bob's extension
        assert isinstance(busy, ErrorReply) and (busy.errcode, busy.holder) == (409, "alice")
        # a session granted the flag's extension: malformed, 400
        for raw, seq, flags in ((bob, "q1", "queue='yes'"), (carol, "e1", "emergency='2'")):
            refused = (await ask_xml(raw, seq, flags)).body
            assert isinstance(refused, ErrorReply) and refused.errcode == 400, refused
            assert refused.errmsg.endswith("is not '0' or '1'")
        busy = (await ask_xml(carol, "e2", "queue='yes'")).body  # not carol's extension
        assert isinstance(busy, ErrorReply) and busy.errcode == 409
        # over-long: 413 for a session granted the flag's extension, ignored for any other
        long_queue, long_emergency = f"queue='{'1' * 1025}'", f"emergency='{'1' * 1025}'"
        for raw, seq, flags in ((bob, "q2", long_queue), (carol, "e3", long_emergency)):
            refused = (await ask_xml(raw, seq, flags)).body
            assert isinstance(refused, ErrorReply) and refused.errcode == 413, refused
            assert refused.errmsg == f"attribute {flags.split('=')[0]!r} too long"
        busy = (await ask_xml(carol, "e4", long_queue)).body  # not carol's extension
        assert isinstance(busy, ErrorReply) and busy.errcode == 409
        assert (await ask_xml(alice, "b2", f"{long_queue} {long_emergency}")).ok
        assert server.state.interphones[G58].floor.queue == ()
        assert not server.state.interphones[G58].floor.emergency_by
        await close_all(alice, bob, carol)


async def test_base_session_cannot_use_emergency() -> None:
    async with running_server(directory()) as server:
        alice, bob = await joined(server.port, G58, ("alice", ALL), ("bob", ""))
        await ask(alice, G58)
        assert (await ask(bob, G58, emergency=True)).body.errcode == 409  # flag ignored
        refused = (await bob.request(EmergencyRequest(EmergencyAction.RAISE, G58))).body
        assert isinstance(refused, ErrorReply) and refused.errcode == 400
        assert not server.state.interphones[G58].floor.emergency_by
        await close_all(alice, bob)


async def test_disconnect_of_a_queued_user_moves_the_line_up() -> None:
    async with running_server(directory()) as server:
        alice, bob, carol = await joined(server.port, G58, ("alice", ALL), ("bob", ALL),
                                         ("carol", ALL))
        await ask(alice, G58)
        await ask(bob, G58, queue=True)
        await ask(carol, G58, queue=True)
        carol.drain()
        await bob.close()
        change, moved = await notes(carol, 2)
        assert change.info.members == ("alice", "carol")
        assert moved == floor(G58, FloorNoticeType.QUEUED, position=1)
        assert server.state.interphones[G58].floor.queue == ("carol",)
        await close_all(alice, carol)


async def test_disconnect_of_the_pre_empting_holder_grants_the_head_of_the_line() -> None:
    async with running_server(directory()) as server:
        alice, disp, bob = await joined(server.port, OPS, ("alice", ALL), ("disp", ALL),
                                        ("bob", ALL))
        await ask(alice, OPS)
        assert (await ask(disp, OPS)).ok  # pre-empts alice
        assert (await ask(bob, OPS, queue=True)).body == SpeakResult(True, OPS, True, 1)
        bob.drain()
        await disp.close()
        granted, change = await notes(bob, 2)
        assert granted == floor(OPS, FloorNoticeType.GRANTED)
        assert (change.info.speaker, change.info.members) == ("bob", ("alice", "bob"))
        assert server.state.interphones[OPS].holder == "bob"
        await close_all(alice, bob)


async def test_talk_limit_revocation_names_the_reason_and_grants_the_head() -> None:
    async with running_server(directory(), max_talk=0.3, silence_timeout=10) as server:
        alice, bob = await joined(server.port, G58, ("alice", ALL), ("bob", ALL))
        await ask(alice, G58)
        await asyncio.sleep(0.05)  # the grant's notification, sent after the response
        alice.drain()
        await ask(bob, G58, queue=True)
        revoked, change = await notes(alice, 2)
        assert revoked == floor(G58, FloorNoticeType.REVOKED, reason="time_limit")
        assert change.info.speaker == "bob"
        await close_all(alice, bob)


async def test_shutdown_tells_the_holder_why_its_grant_ends() -> None:
    async with running_server(directory()) as server:
        alice, bob = await joined(server.port, G58, ("alice", ALL), ("bob", ""))
        await ask(alice, G58)
        await asyncio.sleep(0.05)
        alice.drain()
        bob.drain()
        await server.stop()
        assert (await alice.next_notification()).body == floor(
            G58, FloorNoticeType.REVOKED, reason="shutdown")
        assert await bob.closed_by_server()
        assert bob.drain() == []  # a base session sees the connection close, nothing more
        await close_all(alice, bob)
