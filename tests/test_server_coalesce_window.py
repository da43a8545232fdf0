"""The coalescing window grows with the interphone (a notification costs each member a
count, or a member list, as long as the interphone), and a held change is never lost."""

from __future__ import annotations

from app.server.coalesce import NOTIFY_WINDOW, WINDOW_PER_MEMBER, Coalescer, window_for


def test_small_interphones_keep_the_short_window_large_ones_a_longer_one() -> None:
    assert window_for(2) == NOTIFY_WINDOW
    assert window_for(500) == 500 * WINDOW_PER_MEMBER > NOTIFY_WINDOW
    assert window_for(500, 0.0) == 0.0  # coalescing off stays off


def test_a_change_after_a_held_notification_is_held_again_and_told() -> None:
    """The window grew between two changes (the interphone grew): the change after the
    due notification must still be told, at the end of its own window."""
    coalescer: Coalescer[str] = Coalescer()
    coalescer.told("a", 10.0)
    assert coalescer.hold("a", 10.01, members=100)  # window 0.1 s at 100 members
    deadline = coalescer.next_deadline()
    assert deadline is not None and deadline == 10.0 + window_for(100)
    assert coalescer.take_due(deadline) == ["a"]
    later = deadline + 0.01
    assert coalescer.hold("a", later, members=400)  # within the new, longer window
    assert coalescer.next_deadline() == deadline + window_for(400)
    assert coalescer.take_due(deadline + window_for(400)) == ["a"]
    assert coalescer.next_deadline() is None
