"""media-auth keys on several nodes (app/server/cluster_keys.py): every node that applies the
same log entries derives the same voice key, epoch and grant numbers, a node started from a
snapshot too, and no key comes back (sans-IO, no Redis)."""

from __future__ import annotations

from typing import Any

from server_fixtures import G58, sample_directory

from app.protocol.media_crypto import KEY_BYTES, new_secret
from app.server import ServerSettings, ServerState
from app.server.cluster_keys import derive_key
from app.server.replica import Replica

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5,
                          media_encryption="optional")


def test_a_key_depends_on_the_secret_the_log_entry_the_interphone_and_the_epoch() -> None:
    secret = new_secret()
    key = derive_key(secret, "5-0", "group_58", 3)
    assert len(key) == KEY_BYTES and key == derive_key(secret, "5-0", "group_58", 3)
    others = {derive_key(new_secret(), "5-0", "group_58", 3),
              derive_key(secret, "5-1", "group_58", 3),
              derive_key(secret, "5-0", "group_12", 3),
              derive_key(secret, "5-0", "group_58", 4)}
    assert key not in others and len(others) == 4


def node(secret: bytes, number: int) -> tuple[ServerState, Replica]:
    state = ServerState(sample_directory(), SETTINGS, udp_port=9400 + number)
    replica = Replica(state, number, ("127.0.0.1", 9400 + number))
    replica.use_media_secret(secret)
    return state, replica


def login(sid: int, uid: str) -> dict[str, Any]:
    return {"t": "login", "sid": sid, "uid": uid, "ip": "127.0.0.1",
            "features": ["media-auth"]}


def join(sid: int) -> dict[str, Any]:
    return {"t": "join", "sid": sid, "id": str(G58), "member": None}


LOG: list[tuple[str, dict[str, Any]]] = [
    ("1-0", login((1 << 32) + 1, "alice")), ("2-0", login((2 << 32) + 1, "bob")),
    ("3-0", login((2 << 32) + 2, "carol")), ("4-0", join((1 << 32) + 1)),
    ("5-0", join((2 << 32) + 1)),
    ("6-0", {"t": "speak", "sid": (1 << 32) + 1, "id": str(G58), "on": True}),
]


def test_nodes_applying_one_log_hand_out_one_key_epoch_and_grant() -> None:
    secret = new_secret()
    (a, replica_a), (b, replica_b) = node(secret, 1), node(secret, 2)
    for log_id, event in LOG:
        replica_a.apply(log_id, event, 10.0)
        replica_b.apply(log_id, event, 20.0)
    key = a.media_keys.current(str(G58))
    assert key is not None and key == b.media_keys.current(str(G58))
    grant = a.media_keys.current_grant(str(G58))
    assert grant is not None and grant == b.media_keys.current_grant(str(G58))
    alone, replica_alone = node(new_secret(), 3)  # another cluster (secret): another key
    for log_id, event in LOG:
        replica_alone.apply(log_id, event, 10.0)
    other = alone.media_keys.current(str(G58))
    assert other is not None and other.epoch == key.epoch and other.key != key.key


def test_a_node_started_from_a_snapshot_continues_with_the_same_keys() -> None:
    secret = new_secret()
    a, replica_a = node(secret, 1)
    for log_id, event in LOG:
        replica_a.apply(log_id, event, 10.0)
    snapshot = replica_a.snapshot("6-0", 10.0)
    late, replica_late = node(secret, 3)
    replica_late.restore(snapshot, 50.0)
    before = a.media_keys.current(str(G58))
    assert before is not None and late.media_keys.current(str(G58)) == before
    assert late.media_keys.relay_allows(str(G58), before.epoch,
                                        a.media_keys.current_grant(str(G58)) or 0)
    for log_id, event in (("7-0", join((2 << 32) + 2)),  # carol joins: a new epoch
                          ("8-0", {"t": "speak", "sid": (1 << 32) + 1, "id": str(G58),
                                   "on": True})):  # a re-grant: a new number
        replica_a.apply(log_id, event, 11.0)
        replica_late.apply(log_id, event, 51.0)
    after = a.media_keys.current(str(G58))
    assert after is not None and after.epoch > before.epoch
    assert late.media_keys.current(str(G58)) == after
    assert late.media_keys.current_grant(str(G58)) == a.media_keys.current_grant(str(G58))
