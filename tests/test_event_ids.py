"""The ``eid`` of a node's events: each applied once though the log holds it twice, the
highest applied of every node carried by the snapshot, entries without one applied."""

from __future__ import annotations

from app.server.event_ids import EventIds


def test_a_node_s_events_are_numbered_in_order_and_a_second_copy_is_skipped() -> None:
    mine, other = EventIds(3), EventIds(4)
    first, second = mine.stamp({"t": "logout", "sid": 1}), mine.stamp({"t": "media"})
    assert (first["by"], first["eid"], second["eid"]) == (3, 1, 2)
    assert not other.repeated(first) and not other.repeated(second)
    assert other.repeated(dict(first)) and other.repeated(dict(second))  # appended again
    third = mine.stamp({"t": "logout", "sid": 2})
    assert not other.repeated(third)
    assert not other.repeated(EventIds(5).stamp({"t": "logout", "sid": 3}))  # another node


def test_the_snapshot_carries_the_highest_applied_of_every_node() -> None:
    writer, taker, late = EventIds(1), EventIds(2), EventIds(3)
    event = writer.stamp({"t": "reload", "kick": ["bob"], "leave": []})
    assert not taker.repeated(event)
    late.restore(taker.snapshot())
    assert late.repeated(dict(event))
    late.restore({})  # a snapshot written before events had ids
    assert not late.repeated(dict(event))


def test_entries_without_eid_are_applied_each_time() -> None:
    ids = EventIds(1)
    down = {"t": "down", "node": 2}  # the sweep's, or written by an older version
    assert not ids.repeated(down) and not ids.repeated(down)
    assert ids.applied == {}
