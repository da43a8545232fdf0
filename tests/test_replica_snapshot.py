"""A shared log's snapshot carries what a node started later needs to decide as the others
do: floors with their line, and ringing calls (sans-IO, no Redis)."""

from __future__ import annotations

from server_fixtures import G58, sample_directory

from app.protocol import InterphoneId
from app.server import ServerSettings, ServerState
from app.server.replica import Replica

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5,
                          queue_timeout=20)
CHAT = InterphoneId.chat("alice", "bob")


def test_floors_lines_and_rings_survive_a_snapshot() -> None:
    state = ServerState(sample_directory(), SETTINGS, udp_port=9400)
    replica = Replica(state, 1, ("127.0.0.1", 9400))
    for sid, uid in ((1, "alice"), (2, "bob"), (3, "carol")):
        state.login(sid, uid, f"pw-{uid}", "127.0.0.1", ("presence", "floor-queue"))
    for sid in (1, 2, 3):
        state.join(sid, G58, now=100.0)
    state.speak(1, G58, True, 100.0)
    state.speak(2, G58, True, 101.0, queue=True)
    state.join(3, InterphoneId.chat("carol", "alice"), now=102.0)  # rings alice
    snapshot = replica.snapshot("5-0", 110.0)

    late = ServerState(sample_directory(), SETTINGS, udp_port=9400)
    Replica(late, 2, ("127.0.0.1", 9401)).restore(snapshot, 500.0)
    record = late.interphones[G58]
    assert (record.holder, record.floor.holder, record.floor.queue) == ("alice", "alice",
                                                                        ("bob",))
    assert record.floor.policy.queue_timeout == 20  # the directory's policy, not a default
    assert record.floor.next_deadline() == 500.0 + (101.0 + 20 - 110.0)  # time left kept
    ring = late.presence.rings[InterphoneId.chat("carol", "alice")]
    assert (ring.caller, ring.callee) == ("carol", "alice")
    assert ring.deadline == 500.0 + (102.0 + late.presence.ring_timeout - 110.0)
    assert late.next_deadline() is not None


def test_an_emergency_in_a_snapshot_written_before_emergency_ids_gets_one_every_node_shares(
        ) -> None:
    state = ServerState(sample_directory(), SETTINGS, udp_port=9400)
    replica = Replica(state, 1, ("127.0.0.1", 9400))
    state.login(1, "alice", "pw-alice", "127.0.0.1", ("emergency",))
    state.join(1, G58, now=100.0)
    state.interphones[G58].floor.raise_emergency("alice", 100.0)
    snapshot = replica.snapshot("7-0", 110.0)
    assert snapshot["interphones"][0]["floor"]["emergency_by"] == "alice"
    del snapshot["interphones"][0]["floor"]["emergency_id"]  # as an older server wrote it
    ids = set()
    for node in (2, 3):
        late = ServerState(sample_directory(), SETTINGS, udp_port=9400)
        Replica(late, node, ("127.0.0.1", 9400 + node)).restore(snapshot, 500.0)
        floor = late.interphones[G58].floor
        assert floor.emergency_by == "alice"
        ids.add(floor.emergency_id)
    assert ids == {"7-0"}
