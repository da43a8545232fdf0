"""Whether the other nodes of a cluster serve the same directory as this one.

Each node publishes its directory's fingerprint in its entry of the store's node list;
:class:`DirectoryAgreement` reads them at each heartbeat (sans-IO: the clock is passed in)
and warns when another node has served another directory for ``grace`` seconds: it lets in
whom this one refuses (a removed user logs in there and talks to everyone), and the other
way round. Said once per node and directory, and again when they agree."""

from __future__ import annotations

import contextlib
import json
import logging

from app.server.redis_support import describe_node

log = logging.getLogger("app.server.redis_store")  # (the store's lines, as operators know them)

DIRECTORY_GRACE = 30.0
"""Seconds another node may serve another directory before this one warns (the time it
takes to reload every node by hand)."""


class DirectoryAgreement:
    def __init__(self, grace: float = DIRECTORY_GRACE) -> None:
        self.grace = grace
        self._differing: dict[int, tuple[str, str, float]] = {}
        """Node -> (its directory's fingerprint, this node's, since when they differ)."""
        self._warned: dict[int, tuple[str, str]] = {}  # node -> (theirs, mine)

    def compare(self, known: dict[str, str], me: int, mine: str, now: float) -> None:
        """``known``: the node list as read (number -> its JSON entry); ``me``: this
        node's number; ``mine``: its directory's fingerprint."""
        differing: dict[int, tuple[str, str, float]] = {}
        for number, info in known.items():
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                node, theirs = int(number), str(json.loads(info).get("dir", ""))
                if node == me or not theirs or theirs == mine:
                    continue
                seen = self._differing.get(node)
                differing[node] = seen if seen and seen[:2] == (theirs, mine) else (
                    theirs, mine, now)
                lasted = now - differing[node][2]
                if lasted >= self.grace and self._warned.get(node) != (theirs, mine):
                    self._warned[node] = (theirs, mine)
                    log.warning(
                        "node %d (%s) serves another directory than this node (%s there, "
                        "%s here) for %.0f s: each node checks logins and visibility with "
                        "its own, so a user one file no longer has may log in where the other "
                        "still has it; give every node "
                        "the same directory file and reload it (SIGHUP)", node,
                        describe_node(info), theirs, mine, lasted)
        for node in [n for n in self._warned if n not in differing]:
            del self._warned[node]
            if str(node) in known:
                log.info("node %d (%s) serves the same directory as this node again", node,
                         describe_node(known[str(node)]))
        self._differing = differing

    def others(self, now: float) -> int:
        """Other nodes that have served another directory than this one for longer than
        ``grace`` (``interphone_nodes_with_another_directory``)."""
        return sum(1 for _, _, since in self._differing.values() if now - since >= self.grace)
