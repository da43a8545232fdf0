"""The client's media-auth state (app/client/media_auth.py), wired to the server's gate
(app/server/media_gate.py) by handing each side's datagrams to the other."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from app.client.media_auth import ClientMediaAuth, HeardAudio, RecvBeginAcked
from app.protocol.media_crypto import RecvBeginVerifier, encode_b64, new_secret
from app.protocol.media_keys import InterphoneKeys
from app.server.addr_limits import RecvBeginBuckets
from app.server.media_gate import SealedMediaGate

ID = "group_58"
SERVER = ("192.0.2.10", 9400)
ADDRESSES = {"alice": ("198.51.100.1", 40001), "bob": ("198.51.100.2", 40002)}


@dataclass
class Table:
    verifiers: dict[str, RecvBeginVerifier] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)
    holder: str | None = None

    def recvbegin_verifier(self, uid: str, source_ip: str) -> RecvBeginVerifier | None:
        return self.verifiers.get(uid)  # (the state also checks the IP: see its tests)

    def is_member(self, interphone_id: str, uid: str) -> bool:
        return interphone_id == ID and uid in self.members

    def floor_holder(self, interphone_id: str) -> str | None:
        return self.holder if interphone_id == ID else None

    def media_auth_members(self, interphone_id: str) -> Iterable[str]:
        return sorted(self.members) if interphone_id == ID else ()


class Network:
    """Server gate and clients; datagrams delivered by function calls, in order."""

    def __init__(self) -> None:
        self.table = Table()
        self.keys = InterphoneKeys()
        self.gate = SealedMediaGate(self.table, self.keys, RecvBeginBuckets(1000.0, 1000))
        self.clients: dict[str, ClientMediaAuth] = {}
        self.inbox: dict[str, list[object]] = {}
        for uid in ADDRESSES:
            secret = new_secret()
            self.table.verifiers[uid] = RecvBeginVerifier(secret, uid)
            self.clients[uid] = ClientMediaAuth(uid, secret, SERVER)
            self.inbox[uid] = []
            self.table.members.add(uid)

    def rotate(self) -> None:
        key = self.keys.rotate(ID)
        for uid in self.table.members:
            self.clients[uid].install_key(ID, key.epoch, encode_b64(key.key), 0.0)

    def to_server(self, uid: str, data: bytes) -> None:
        result = self.gate.datagram(data, ADDRESSES[uid], 0.0)
        for payload, destination in (*result.sends, *((data, t) for t in result.targets)):
            receiver = next(u for u, a in ADDRESSES.items() if a == destination)
            self.inbox[receiver].append(
                self.clients[receiver].datagram(payload, SERVER, 0.0))


@pytest.fixture
def net() -> Network:
    network = Network()
    network.rotate()
    for uid, client in network.clients.items():
        network.to_server(uid, client.recvbegin(ID))
        assert network.inbox[uid] == [RecvBeginAcked(ID)]
        network.inbox[uid].clear()
    return network


def grant_floor(net: Network, uid: str) -> int:
    net.table.holder = uid
    grant = net.keys.new_grant(ID)
    net.clients[uid].floor_granted(ID, grant)
    return grant


def test_talk_reaches_the_listener_as_authentic_audio(net: Network) -> None:
    grant = grant_floor(net, "alice")
    for seq in range(3):
        net.to_server("alice", net.clients["alice"].seal(ID, seq, b"frame%d" % seq))
    assert net.inbox["bob"] == [HeardAudio(ID, "alice", grant, seq, b"frame%d" % seq)
                                for seq in range(3)]
    assert net.inbox["alice"] == []


def test_only_the_server_address_is_heard(net: Network) -> None:
    grant_floor(net, "alice")
    data = net.clients["alice"].seal(ID, 0, b"x")
    bob = net.clients["bob"]
    assert bob.datagram(data, ("192.0.2.10", 9401), 0.0) is None  # other port of the server
    assert bob.datagram(data, ("192.0.2.99", 9400), 0.0) is None  # other host
    assert isinstance(bob.datagram(data, SERVER, 0.0), HeardAudio)


def test_replayed_audio_plays_once(net: Network) -> None:
    grant_floor(net, "alice")
    data = net.clients["alice"].seal(ID, 0, b"x")
    bob = net.clients["bob"]
    assert isinstance(bob.datagram(data, SERVER, 0.0), HeardAudio)
    assert bob.datagram(data, SERVER, 0.0) is None


def test_garbage_own_audio_and_unasked_acks_are_dropped(net: Network) -> None:
    grant_floor(net, "alice")
    alice = net.clients["alice"]
    assert alice.datagram(alice.seal(ID, 0, b"x"), SERVER, 0.0) is None  # own uid
    assert alice.datagram(b"\x00" * 40, SERVER, 0.0) is None
    assert alice.datagram(alice.recvbegin(ID), SERVER, 0.0) is None  # reflection, not an ack


def test_talking_needs_a_grant_and_a_key(net: Network) -> None:
    alice = net.clients["alice"]
    assert not alice.can_talk(ID)
    with pytest.raises(RuntimeError, match="no floor grant or key"):
        alice.seal(ID, 0, b"x")
    grant_floor(net, "alice")
    assert alice.can_talk(ID)
    alice.floor_released(ID)
    assert not alice.can_talk(ID)
    grant_floor(net, "alice")
    alice.left(ID)
    assert not alice.can_talk(ID)


def test_a_new_grant_restarts_seq_without_nonce_reuse(net: Network) -> None:
    first = grant_floor(net, "alice")
    net.to_server("alice", net.clients["alice"].seal(ID, 0, b"one"))
    second = grant_floor(net, "alice")  # "on" again: a new grant, seq back to 0
    net.to_server("alice", net.clients["alice"].seal(ID, 0, b"two"))
    assert [(h.grant, h.frame) for h in net.inbox["bob"]  # type: ignore[attr-defined]
            ] == [(first, b"one"), (second, b"two")]


def test_malformed_keys_are_refused(net: Network) -> None:
    with pytest.raises(ValueError):
        net.clients["bob"].install_key(ID, 9, "not base64!", 0.0)
    with pytest.raises(ValueError):
        net.clients["bob"].install_key(ID, 9, encode_b64(b"short"), 0.0)
