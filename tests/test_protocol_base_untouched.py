"""A session that asks for no extension sees exactly PROTOCOL.md, whatever the others do.

One base session sits in the interphones where sessions granted every extension
(docs/protocol-extensions.md) use all of them: the floor line, pre-emption,
emergencies, media-auth (keys, authenticated recvbegin, sealed audio), loss reports,
presence and calls, coalescing, a directory reload with its roster notice. Every
frame the base session receives is checked, byte for byte as received, against the
elements and attributes of PROTOCOL.md sections 3-4 (and the 409 ``holder`` of
section 6) and nothing else; every datagram it receives is a base type (1 or 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from redis_fixtures import node_store, running_redis, settle
from server_fixtures import FAST, RawClient, UdpPeer, running_server

from app.protocol import FrameDecoder, InterphoneId, Login, LoginResult, encode_frame
from app.protocol.features import KNOWN_FEATURES
from app.protocol.media_crypto import AuthRecvBegin, MediaKey, decode_b64, seal_audio
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    JoinRequest,
    JoinResult,
    MediaKeyNotice,
    QualityReport,
    SpeakRequest,
    SpeakResult,
)
from app.protocol.presence import CallAction, CallRequest, PresenceSyncRequest
from app.protocol.udp import RecvBeginPacket
from app.server import Directory, InterphoneServer

TOML = """\
[server]
auth = "token"
queue_limit = 4
dispatcher_level = 8

[[users]]
uid = "alice"
name = "Alice"
token = "pw-alice"

[[users]]
uid = "bob"
name = "Bob"
token = "pw-bob"

[[users]]
uid = "carol"
name = "Carol"
token = "pw-carol"
priority = 9

[[users]]
uid = "dave"
name = "Dave"
token = "pw-dave"
priority = 3

[[groups]]
id = "58"
name = "Ops"
members = ["*"]
preemptible = true

[[discussions]]
id = "12"
name = "Night"
members = ["alice", "bob", "carol", "dave"]
"""

G58 = InterphoneId.group("58")
D12 = InterphoneId.discuss("12")
CHAT = InterphoneId.chat("alice", "bob")
EVERYTHING = tuple(sorted(KNOWN_FEATURES))

# PROTOCOL.md: the attributes each element may carry towards a base session.
ROSTER_ENTRY = {"id", "name"}
INTERPHONE = {"id", "attach_type", "attach_id", "member_count", "speaker"}
ERROR = {"errcode", "errmsg"}
ALLOWED: dict[tuple[str, str], set[str]] = {
    # (message type, element): attributes
    ("response", "login"): {"uid", "udp_port", "keepalive", "max_talk"},
    ("response", "ping"): set(),
    ("response", "interphones"): {"type"},
    ("response", "interphone"): INTERPHONE | {"type"} | ERROR,
    ("response", "speak"): {"type", "id", "holder"} | ERROR,
    ("notification", "interphone"): INTERPHONE,
    ("notification", "kicked"): {"reason"},
}
CHILDREN: dict[str, tuple[set[str], set[str]]] = {
    # element: (child elements allowed, their attributes)
    "login": ({"group", "discuss", "contact"}, ROSTER_ENTRY),
    "interphones": ({"interphone"}, INTERPHONE),
    "interphone": ({"member"}, {"id"}),
}


def check_base_frame(raw: bytes) -> None:
    """``raw`` is a message PROTOCOL.md defines, with nothing an extension adds."""
    root = etree.fromstring(raw)
    assert root.tag == "message", raw
    kind = root.get("type")
    envelope = {"type", "module"} | ({"seq"} if kind == "response" else set())
    assert set(root.attrib) == envelope, raw
    (child,) = list(root)
    allowed = ALLOWED.get((kind or "", child.tag))
    assert allowed is not None, f"not a base message: {raw!r}"
    assert set(child.attrib) <= allowed, f"extension attributes in {raw!r}"
    grandchildren, their_attributes = CHILDREN.get(child.tag, (set(), set()))
    for element in child:
        assert element.tag in grandchildren, f"extension element in {raw!r}"
        assert set(element.attrib) <= their_attributes, f"extension attributes in {raw!r}"
        assert len(element) == 0, raw
    if child.tag == "speak" and child.get("errcode") == "409":
        assert child.get("holder"), raw


def assert_base_only(frames: list[bytes], udp: UdpPeer) -> None:
    """Every frame a message PROTOCOL.md defines, every datagram queued on ``udp`` a base
    one (audio or recvbegin, never sealed audio)."""
    for frame in frames:
        check_base_frame(frame)
    received: list[Any] = []
    while not udp.received.empty():
        received.append(udp.received.get_nowait()[0])
    assert all(struct.unpack(">I", data[4:8])[0] in (1, 2) for data in received)


async def close_all(*ends: Any) -> None:
    """Close clients (awaited) and UDP peers (at once)."""
    for end in ends:
        if isinstance(end, UdpPeer):
            end.close()
        else:
            await end.close()


class BaseRecorder:
    """A base client that keeps every frame it receives, as received."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames: list[bytes] = []
        self.decoder = FrameDecoder()
        self.seq = 0
        self.arrived = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, port: int) -> BaseRecorder:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def _read(self) -> None:
        while data := await self.reader.read(65536):
            self.frames.extend(self.decoder.feed(data))
            self.arrived.set()

    async def request(self, module: str, child: str) -> bytes:
        self.seq += 1
        seq = f"b{self.seq}"
        self.writer.write(encode_frame(
            f"<message type='request' seq='{seq}' module='{module}'>{child}</message>".encode()))
        marker = f'seq="{seq}"'.encode()
        for _ in range(300):
            for frame in self.frames:
                if marker in frame:
                    return frame
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 3.0)
        raise AssertionError(f"no response to {child}")

    async def close(self) -> None:
        self.writer.close()
        self.task.cancel()


async def extension_client(port: int, uid: str, features: tuple[str, ...] = EVERYTHING
                           ) -> tuple[RawClient, LoginResult]:
    client = await RawClient.connect(port)
    reply = await client.request(Login(uid, f"pw-{uid}", features=features))
    assert reply.ok and isinstance(reply.body, LoginResult), reply
    assert set(reply.body.features) == set(features)
    client.uid = uid
    return client, reply.body


async def test_a_base_session_sees_only_the_base_contract_while_every_extension_is_used(
) -> None:
    directory = Directory.from_toml_text(TOML, source="base.toml")
    async with running_server(directory, media_encryption="optional") as server:
        port = server.port
        alice = await BaseRecorder.connect(port)
        assert b"features" not in await alice.request(
            "MID_SESSION", "<login uid='alice' token='pw-alice' version='1'/>")
        await alice.request("MID_INTERPHONE", "<interphones type='sync'>"
                            "<interphone id='group_58'/><interphone id='discuss_12'/>"
                            "</interphones>")
        await alice.request("MID_INTERPHONE", "<interphone type='add' id='group_58'/>")
        alice_udp = await UdpPeer.open(port)
        alice_udp.send(RecvBeginPacket(str(G58), "alice").serialize())
        assert await alice_udp.recv() == RecvBeginPacket(str(G58), "alice").serialize()

        bob, bob_login = await extension_client(port, "bob")
        carol, _ = await extension_client(port, "carol")
        dave, _ = await extension_client(port, "dave", ("emergency", "feedback", "floor-queue",
                                                        "priority", "presence"))
        keys: dict[int, bytes] = {}
        for client in (bob, carol, dave):
            joined = await client.request(JoinRequest(G58))
            assert joined.ok and isinstance(joined.body, JoinResult)
            if client is bob and joined.body.media_key is not None:
                keys[joined.body.media_key.epoch] = decode_b64(joined.body.media_key.key, 32)
        await asyncio.sleep(0.1)
        for message in bob.drain():
            if isinstance(message.body, MediaKeyNotice):
                keys[message.body.epoch] = decode_b64(message.body.key, 32)
        assert keys, "bob holds the voice key"
        assert (await bob.request(PresenceSyncRequest())).ok

        # media-auth: bob registers, takes the floor, sends sealed audio
        secret = decode_b64(bob_login.media_secret, 32)
        bob_udp = await UdpPeer.open(port)
        bob_udp.send(AuthRecvBegin.sign(secret, str(G58), "bob", 1).serialize())
        assert struct.unpack(">I", (await bob_udp.recv())[4:8]) == (17,)
        granted = await bob.request(SpeakRequest(True, G58))
        assert isinstance(granted.body, SpeakResult) and granted.body.grant
        epoch = max(keys)
        for seq in range(3):
            bob_udp.send(seal_audio(MediaKey(epoch, keys[epoch]), str(G58), "bob",
                                    granted.body.grant, seq, b"\xf8\xff\xfe"))
        # the floor line, with a base request that asks to wait (ignored: 409)
        assert (await dave.request(SpeakRequest(True, G58, queue=True))).ok
        busy = await alice.request("MID_INTERPHONE",
                                   "<speak type='on' id='group_58' queue='1' emergency='1'/>")
        assert b'errcode="409"' in busy and b"reason" not in busy
        # loss reports to the holder
        assert (await dave.request(QualityReport(G58, "bob", 12.5, 20.0))).ok
        # pre-emption by priority, then an emergency and its cancel by a dispatcher
        assert (await carol.request(SpeakRequest(True, G58))).ok
        assert (await dave.request(SpeakRequest(True, G58, emergency=True))).ok
        assert (await dave.request(EmergencyRequest(EmergencyAction.RAISE, G58))).ok
        await alice.request("MID_INTERPHONE", "<interphone type='sync' id='group_58'/>")
        assert (await carol.request(EmergencyRequest(EmergencyAction.CANCEL, G58))).ok
        assert (await dave.request(SpeakRequest(False, G58))).ok
        # a call to the base user: joining the chat rings, ring and cancel
        assert (await bob.request(JoinRequest(CHAT))).ok
        assert (await bob.request(CallRequest(CallAction.RING, CHAT))).ok
        assert (await bob.request(CallRequest(CallAction.CANCEL, CHAT))).ok
        # coalesced member changes of an interphone the base session watches
        for _ in range(3):
            assert (await carol.request(JoinRequest(D12))).ok
            assert (await dave.request(JoinRequest(D12))).ok
            await carol.request_xml("<message type='request' seq='q' module='MID_INTERPHONE'>"
                                    "<interphone type='quit' id='discuss_12'/></message>", "q")
        # a directory reload that changes everybody's roster (roster notices)
        server.replace_directory(Directory.from_toml_text(
            TOML.replace('name = "Bob"', 'name = "Robert"'), source="base.toml"))
        # a session of an extension user ends (presence offline, key rotation)
        await dave.close()
        await asyncio.sleep(0.4)
        await alice.request("MID_SESSION", "<ping/>")

        assert_base_only(alice.frames, alice_udp)
        seen = b"".join(alice.frames)
        for speaker in (b"bob", b"carol", b"dave"):  # the floor changes reached it
            assert b'id="group_58" attach_type="group" attach_id="58" member_count="4" ' \
                   b'speaker="' + speaker + b'"' in seen
        assert b'<interphone id="chat_alice:bob" attach_type="chat" attach_id="bob"' in seen
        assert b'<interphone id="discuss_12"' in seen
        await close_all(alice, bob, carol, alice_udp, bob_udp)


def test_the_checker_refuses_what_an_extension_adds() -> None:
    base = (b'<message type="notification" module="MID_INTERPHONE"><interphone id="group_58" '
            b'attach_type="group" attach_id="58" member_count="1" speaker="">'
            b'<member id="alice"/></interphone></message>')
    check_base_frame(base)
    for extended in (
        base.replace(b'speaker=""', b'speaker="" emergency="bob" emergency_id="1"'),
        base.replace(b'<member id="alice"/>',
                     b'<member id="alice"/><media_key id="group_58" epoch="1" key="x"/>'),
        b'<message type="notification" module="MID_INTERPHONE"><floor id="group_58" '
        b'type="revoked" reason="preempted" by="carol"/></message>',
        b'<message type="response" seq="1" module="MID_SESSION"><login uid="alice" '
        b'udp_port="9400" keepalive="15" max_talk="60" features="roster"/></message>',
        b'<message type="response" seq="2" module="MID_INTERPHONE"><speak type="on" '
        b'id="group_58" errcode="409" errmsg="x" holder="bob" reason="queue_full"/></message>',
    ):
        try:
            check_base_frame(extended)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {extended!r}")


@contextlib.asynccontextmanager
async def base_nodes(kind: str, tmp_path: Path) -> AsyncIterator[list[InterphoneServer]]:
    """One in-memory server, or two nodes of one real redis-server, serving ``TOML``."""
    settings = FAST.with_overrides(media_encryption="optional")
    if kind == "memory":
        async with running_server(Directory.from_toml_text(TOML, source="base.toml"),
                                  media_encryption="optional") as server:
            yield [server]
        return
    with running_redis(tmp_path) as redis:
        nodes: list[InterphoneServer] = []
        try:
            for name in ("n0", "n1"):
                node = InterphoneServer(Directory.from_toml_text(TOML, source="base.toml"),
                                        host="127.0.0.1", port=0, settings=settings,
                                        store=node_store(redis.url, name))
                await node.start()
                nodes.append(node)
            yield nodes
        finally:
            for node in nodes:
                await node.stop()


async def until_seen(recorder: BaseRecorder, marker: bytes, timeout: float = 5.0,
                     after: int = 0) -> None:
    """Until a frame holding ``marker`` has reached ``recorder`` (its ``after``-th frame on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any(marker in frame for frame in recorder.frames[after:]):
        assert loop.time() < deadline, f"{marker!r} never came"
        recorder.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recorder.arrived.wait(), 0.1)


@pytest.mark.parametrize("kind", ["memory", "redis-2"])
async def test_a_base_floor_holder_sees_only_the_base_contract_on_one_node_or_two(
        kind: str, tmp_path: Path) -> None:
    """The base session holds the floor while extension sessions (on the other node, with
    two) wait in line behind it, report their loss about it, pre-empt it by priority and by
    an emergency, and talk sealed audio: it is told only base messages."""
    async with base_nodes(kind, tmp_path) as nodes:
        here, there = nodes[-1].port, nodes[0].port
        alice = await BaseRecorder.connect(here)
        assert b"features" not in await alice.request(
            "MID_SESSION", "<login uid='alice' token='pw-alice' version='1'/>")
        await alice.request("MID_INTERPHONE", "<interphone type='add' id='group_58'/>")
        alice_udp = await UdpPeer.open(here)
        alice_udp.send(RecvBeginPacket(str(G58), "alice").serialize())
        assert await alice_udp.recv() == RecvBeginPacket(str(G58), "alice").serialize()
        bob, bob_login = await extension_client(there, "bob")
        carol, _ = await extension_client(there, "carol")
        dave, _ = await extension_client(there, "dave")
        for client in (bob, carol, dave):
            assert (await client.request(JoinRequest(G58))).ok
        await settle(nodes)
        assert b"errcode" not in await alice.request(
            "MID_INTERPHONE", "<speak type='on' id='group_58'/>")
        await settle(nodes)
        # a line behind the base holder, and loss reports about it
        queued = await bob.request(SpeakRequest(True, G58, queue=True))
        assert isinstance(queued.body, SpeakResult) and queued.body.queued
        for loss in (0.0, 40.0, 80.0):
            assert (await dave.request(QualityReport(G58, "alice", loss, 20.0))).ok
        await asyncio.sleep(0.3)  # over a feedback carrier's flush and the notice gap
        # pre-empted by priority: only the base change notification tells it
        mark = len(alice.frames)
        assert (await carol.request(SpeakRequest(True, G58))).ok
        await until_seen(alice, b'member_count="4" speaker="carol"', after=mark)
        # its own request for the busy floor, asking to wait: the base 409
        busy = await alice.request("MID_INTERPHONE",
                                   "<speak type='on' id='group_58' queue='1' emergency='1'/>")
        assert b'errcode="409"' in busy and b'holder="carol"' in busy and b"reason" not in busy
        # sealed audio of a media-auth holder never reaches it
        secret = decode_b64(bob_login.media_secret, 32)
        bob_udp = await UdpPeer.open(there)
        bob_udp.send(AuthRecvBegin.sign(secret, str(G58), "bob", 1).serialize())
        assert struct.unpack(">I", (await bob_udp.recv())[4:8]) == (17,)
        mark = len(alice.frames)
        assert (await carol.request(SpeakRequest(False, G58))).ok  # the line: bob now
        await until_seen(alice, b'member_count="4" speaker="bob"', after=mark)
        mark = len(alice.frames)
        assert (await bob.request(SpeakRequest(False, G58))).ok
        await until_seen(alice, b'member_count="4" speaker=""', after=mark)
        keys = {m.body.epoch: decode_b64(m.body.key, 32) for m in bob.drain()
                if isinstance(m.body, MediaKeyNotice)}
        joined = await bob.request(JoinRequest(G58))  # a member already: the current key
        assert isinstance(joined.body, JoinResult) and joined.body.media_key is not None
        keys[joined.body.media_key.epoch] = decode_b64(joined.body.media_key.key, 32)
        granted_at = len(alice.frames)
        granted = await bob.request(SpeakRequest(True, G58))
        assert isinstance(granted.body, SpeakResult) and granted.body.grant
        epoch = joined.body.media_key.epoch
        for seq in range(3):
            bob_udp.send(seal_audio(MediaKey(epoch, keys[epoch]), str(G58), "bob",
                                    granted.body.grant, seq, b"\xf8\xff\xfe"))
        await until_seen(alice, b'member_count="4" speaker="bob"', after=granted_at)
        # the holder again, then an emergency takes the floor from it
        mark = len(alice.frames)
        assert (await bob.request(SpeakRequest(False, G58))).ok
        await until_seen(alice, b'member_count="4" speaker=""', after=mark)
        assert b"errcode" not in await alice.request(
            "MID_INTERPHONE", "<speak type='on' id='group_58'/>")
        await settle(nodes)
        assert (await bob.request(QualityReport(G58, "alice", 50.0, 20.0))).ok
        mark = len(alice.frames)
        assert (await dave.request(SpeakRequest(True, G58, emergency=True))).ok
        await until_seen(alice, b'member_count="4" speaker="dave"', after=mark)
        assert (await carol.request(EmergencyRequest(EmergencyAction.CANCEL, G58))).ok
        mark = len(alice.frames)
        await dave.close()  # presence offline to its contacts, a key rotation
        await until_seen(alice, b'member_count="3" speaker=""', after=mark)
        await alice.request("MID_SESSION", "<ping/>")

        assert_base_only(alice.frames, alice_udp)
        await close_all(alice, bob, carol, alice_udp, bob_udp)
