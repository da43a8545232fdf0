"""The records the server state keeps: a logged-in :class:`Session` and an active
:class:`Interphone` (members, floor, media registrations)."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.protocol.ids import InterphoneId
from app.protocol.media_crypto import RecvBeginVerifier
from app.server.floor import Floor
from app.server.settings import ServerSettings

Address = tuple  # what asyncio gives as a datagram's source: (host, port[, flow, scope])


def normalize_ip(host: str) -> str:
    """``::ffff:1.2.3.4`` and ``1.2.3.4`` are the same peer."""
    return host[7:] if host.startswith("::ffff:") and "." in host else host


@dataclass(slots=True, eq=False)
class Session:
    """A logged-in connection: who it is, where from, and what it takes part in.

    ``sid`` is the connection's id (the key of every outbox entry); ``features``
    the extensions granted at login (empty: the session sees exactly the base
    contract); ``subscriptions`` the ids of its last sync; ``joined`` the
    interphones it is a member of. Dicts keep insertion order.
    """

    sid: int
    uid: str
    peer_ip: str
    subscriptions: dict[InterphoneId, None] = field(default_factory=dict)
    joined: dict[InterphoneId, None] = field(default_factory=dict)
    features: frozenset[str] = frozenset()
    media: RecvBeginVerifier | None = None
    """media-auth: the verifier of this session's recvbegin (None: not granted)."""
    media_secret: str = ""
    """media-auth: the secret (base64) the login response carries ('' when not granted)."""


@dataclass(slots=True, eq=False)
class Interphone:
    """An active interphone: its members (join order), floor and media registrations.

    The relay reads ``holder``, ``addrs``, ``granted_at`` and ``last_audio_at``
    directly on its hot path (and writes ``last_audio_at``); it fans out through
    :meth:`fanout`, so ``addrs`` is changed only by :meth:`set_addr` / :meth:`drop_addr`.
    """

    id: InterphoneId
    members: dict[str, int] = field(default_factory=dict)  # uid -> session id
    addrs: dict[str, Address] = field(default_factory=dict)  # uid -> registered UDP address
    holder: str = ""
    """Who holds the floor: always ``floor.holder`` (kept here for the relay's hot path)."""
    floor: Floor = field(default_factory=Floor)
    """Who holds the floor and who waits for it (queue, priority, emergency)."""
    granted_at: float = 0.0
    last_audio_at: float = 0.0
    grant_no: int = 0
    grant_mark: int = 0
    """The relay's marker for the current grant (a relay that judges datagrams after their
    arrival admits none read before it)."""
    remote: set[str] = field(default_factory=set)
    """Members whose ``addrs`` entry is another node's relay (several nodes on one store):
    their audio arrives from that node, and audio for them goes there once per packet."""
    fanout_for: str = ""
    fanout_targets: tuple[Address, ...] | None = None
    """The relay's cached fan-out: every registered address but ``fanout_for``'s, in
    registration order; None when stale (set by :meth:`fanout`, cleared by
    :meth:`set_addr` and :meth:`drop_addr`)."""

    def set_addr(self, uid: str, address: Address, *, remote: bool = False) -> None:
        self.addrs[uid] = address
        if remote:
            self.remote.add(uid)
        else:
            self.remote.discard(uid)
        self.fanout_targets = None

    def drop_addr(self, uid: str) -> None:
        if self.addrs.pop(uid, None) is not None:
            self.remote.discard(uid)
            self.fanout_targets = None

    def fanout(self, speaker: str) -> tuple[Address, ...]:
        """Where ``speaker``'s audio goes: every registered address except its own.

        With members on other nodes: a local speaker's audio goes to each other node
        once (however many of its members listen there); a speaker of another node
        (its node forwarded the packet) is heard by this node's members only."""
        targets = self.fanout_targets
        if targets is None or self.fanout_for != speaker:
            if not self.remote:
                targets = tuple(addr for uid, addr in self.addrs.items() if uid != speaker)
            elif speaker in self.remote:
                targets = tuple(addr for uid, addr in self.addrs.items()
                                if uid not in self.remote)
            else:
                targets = tuple(dict.fromkeys(addr for uid, addr in self.addrs.items()
                                              if uid != speaker))
            self.fanout_for, self.fanout_targets = speaker, targets
        return targets

    def forwarded_fanout(self, speaker: str) -> tuple[Address, ...]:
        """Where ``speaker``'s audio goes when another node's relay forwarded it: this node's
        own listeners (never another node's relay: the speaker's node sends each node its
        copy), the speaker excepted. The cached :meth:`fanout` when ``speaker`` is
        registered at another node, as it then says the same; made afresh when this node
        has not applied that registration yet (an older one of ``speaker``'s, here or at
        another node, or none), as such a speaker is not this node's to send on."""
        if speaker in self.remote:
            return self.fanout(speaker)
        return tuple(addr for uid, addr in self.addrs.items()
                     if uid != speaker and uid not in self.remote)

    def floor_deadline(self, settings: ServerSettings) -> float:
        return min(self.granted_at + settings.max_talk,
                   self.last_audio_at + settings.silence_timeout)
