"""One node of several: the state's changes as events of a shared log, applied in its order.

Sans-IO like the state: :class:`Replica` is the :class:`~app.server.store.SharedLog`
of a :class:`~app.server.state.ServerState`. What the state hands it becomes an event
in :attr:`Replica.outgoing` (the driver, :mod:`app.server.redis_store`, appends them in
order to the log); every event the driver reads back from the log, this node's and the
others', goes through :meth:`Replica.apply`, which returns the
:class:`~app.server.outbox.Outbox` to deliver (replies to this node's requests,
notifications to this node's sessions).

Session ids are unique across nodes: node ``n`` numbers its connections from
``n << 32`` (:func:`first_session_id`), so ``sid >> 32`` names a session's node.

Events (JSON objects, key ``t``): ``login`` (sid, uid, ip, features), ``join`` /
``quit`` (sid, id, member), ``speak`` (sid, id, on), ``read`` (sid: a sync or members
request, answered by its node only, in the log's order), ``logout`` (sid), ``media``
(sid, uid, id, from: the node whose relay uid registered at, addr: that relay, key
and client: the recvbegin's id text and source, which that node acknowledges),
``revoke`` (id, uid, grant: the log id of the grant, reason), ``down`` (node: every
session of that node ends). A request's event also carries ``node`` and ``ref`` so
that its node answers it.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from app.protocol.errors import ErrCode
from app.protocol.ids import InterphoneId
from app.protocol.messages import (
    JoinRequest,
    Login,
    MembersRequest,
    Message,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.replies import refusal
from app.protocol.udp import RecvBeginPacket
from app.server.outbox import Outbox, Refused
from app.server.peers import Peer
from app.server.records import Address, Interphone, Session
from app.server.state import ServerState

log = logging.getLogger(__name__)

Event = dict[str, Any]

SHARED_REQUESTS = (Login, JoinRequest, QuitRequest, SpeakRequest, SyncRequest, MembersRequest)
"""The requests that go through the log: the changes, and the reads (sync, members) so that
they see every change any node acknowledged before (a ``read`` event, applied by its own
node only, is answered when it comes back). Pings are answered locally."""

UNAVAILABLE = "store unavailable: try again later or another server"


def _nothing() -> None:
    pass


def first_session_id(node: int) -> int:
    return (node << 32) + 1


def node_of(sid: int) -> int:
    return sid >> 32


class Replica:
    """This node's half of the shared log: events out, events applied in the log's order."""

    def __init__(self, state: ServerState, node: int, media_address: Address) -> None:
        self.state = state
        self.node = node
        self.media_address = media_address
        self.available = True
        """False while the log cannot be reached: changes are refused, not queued."""
        self.outgoing: list[Event] = []
        self.pending: dict[int, tuple[int, Message]] = {}  # ref -> (sid, request)
        self.held: dict[int, deque[Message]] = {}  # sid -> requests behind its one in flight
        self.grants: dict[str, str] = {}  # interphone id -> log id of its current grant
        self.datagrams: list[tuple[bytes, Address]] = []
        """recvbegin acknowledgements to send from this node's relay (the driver sends
        them): a registration is acknowledged once the log handed it back."""
        self.relays: dict[int, Address] = {}  # node -> its relay's address (media events)
        self._refs = itertools.count(1)
        self.wake: Callable[[], None] = _nothing
        """Called whenever an event is added to :attr:`outgoing` (the driver's writer)."""
        state.shared = self

    def _emit(self, event: Event) -> None:
        self.outgoing.append(event)
        self.wake()

    # ---- the state's side (SharedLog) ----------------------------------------------------------

    def defer(self, peer: Peer, request: Message, now: float) -> bool:
        sid, body = peer.sid, request.body
        held = self.held.get(sid)
        if held is not None:
            held.append(request)
            return True
        if not isinstance(body, SHARED_REQUESTS):
            return False
        if isinstance(body, Login):
            self.state.check_login(sid, body.uid, body.token)
            if sid in self.state.sessions:
                return False  # the same uid again: nothing changes
        elif sid not in self.state.sessions:
            return False  # 401, answered here
        if not self.available:
            raise Refused(ErrCode.SERVER_FAULT, UNAVAILABLE)
        event = request_event(sid, body, peer.ip)
        ref = next(self._refs)
        event["node"], event["ref"] = self.node, ref
        self.pending[ref] = (sid, request)
        self.held[sid] = deque()
        self._emit(event)
        return True

    def session_gone(self, sid: int) -> None:
        in_flight = self.held.pop(sid, None) is not None
        if in_flight or sid in self.state.sessions:
            self._emit({"t": "logout", "sid": sid})

    def media_registered(self, record: Interphone, uid: str, sid: int, key: str,
                         address: Address) -> None:
        self._emit({"t": "media", "sid": sid, "uid": uid, "id": str(record.id),
                    "from": self.node, "addr": list(self.media_address[:2]),
                    "key": key, "client": list(address)})

    def floor_expired(self, record: Interphone, reason: str) -> None:
        """Asks the log to revoke if this node judges the grant: the node whose relay
        receives the holder's audio (where it registered), else the node of its session."""
        holder = record.holder
        grant = self.grants.get(str(record.id))
        if holder in record.addrs:
            judge = holder not in record.remote
        else:
            judge = record.members.get(holder) in self.state.peers
        if judge and grant is not None:
            self._emit({"t": "revoke", "id": str(record.id), "uid": record.holder,
                                  "grant": grant, "reason": reason})

    # ---- the driver's side ---------------------------------------------------------------------

    def learn_relay(self, node: int, address: Address) -> None:
        """``node``'s relay is at ``address`` (its media events, the store's node list)."""
        if node != self.node:
            self.relays[node] = address

    def snapshot(self, log_id: str) -> Event:
        """The shared state after entry ``log_id``, for a node that starts later (JSON)."""
        state = self.state
        interphones = []
        for record in state.interphones.values():
            media = [[uid, list((addr if uid in record.remote else self.media_address)[:2])]
                     for uid, addr in record.addrs.items()]
            interphones.append({"id": str(record.id), "members": list(record.members.items()),
                                "holder": record.holder,
                                "grant": self.grants.get(str(record.id), ""), "media": media})
        relays = {str(n): list(a[:2]) for n, a in self.relays.items()}
        relays[str(self.node)] = list(self.media_address[:2])
        return {"at": log_id, "relays": relays, "interphones": interphones,
                "sessions": [[sid, x.uid, x.peer_ip, sorted(x.features),
                              [str(i) for i in x.joined]] for sid, x in state.sessions.items()]}

    def restore(self, snapshot: Event, now: float) -> None:
        """Start from ``snapshot`` (this node has applied nothing yet)."""
        for node, relay in snapshot["relays"].items():
            self.learn_relay(int(node), tuple(relay))
        sessions = [Session(int(sid), uid, ip, features=frozenset(features),
                            joined={InterphoneId.parse(i): None for i in joined})
                    for sid, uid, ip, features, joined in snapshot["sessions"]]
        records = []
        for item in snapshot["interphones"]:
            record = Interphone(InterphoneId.parse(item["id"]))
            record.members = {uid: int(sid) for uid, sid in item["members"]}
            record.holder = item["holder"]
            record.granted_at = record.last_audio_at = now
            if item["grant"]:
                self.grants[item["id"]] = item["grant"]
            for uid, relay in item["media"]:
                if tuple(relay) != tuple(self.media_address[:2]):  # not a former self's
                    record.set_addr(uid, tuple(relay), remote=True)
            records.append(record)
        self.state.restore(sessions, records)

    def take_datagrams(self) -> list[tuple[bytes, Address]]:
        datagrams, self.datagrams = self.datagrams, []
        return datagrams

    def take_outgoing(self) -> list[Event]:
        events, self.outgoing = self.outgoing, []
        return events

    def node_down(self, node: int) -> None:
        """Another node stopped beating: its sessions end (appended, applied in order)."""
        self._emit({"t": "down", "node": node})

    def append_failed(self, events: Iterable[Event], now: float) -> tuple[Outbox, list[Event]]:
        """The log refused ``events``: requests are refused (their clients may retry),
        the rest (logouts, media, revocations, node deaths) come back to be retried."""
        outbox, retry = Outbox(), []
        for event in events:
            ref = event.get("ref")
            if ref is None or event.get("node") != self.node:
                retry.append(event)
                continue
            sid, request = self.pending.pop(ref, (0, None))
            if request is not None:
                outbox.send(sid, refusal(request, ErrCode.SERVER_FAULT, UNAVAILABLE))
                self._release(sid, now, outbox)
        return outbox, retry

    def apply(self, log_id: str, event: Event, now: float) -> Outbox:
        """Apply one event of the log (this node's or another's), in the log's order."""
        state = self.state
        kind = event.get("t")
        request: Message | None = None
        sid = int(event.get("sid", 0))
        mine = event.get("node") == self.node and "ref" in event
        if mine:
            sid, request = self.pending.pop(int(event["ref"]), (sid, None))
        outbox = Outbox()
        if kind in ("login", "join", "quit", "speak"):
            body = body_of(event)
            record = state.interphones.get(body.id) if isinstance(body, SpeakRequest) else None
            before = record.holder if record is not None else ""
            outbox = state.apply_shared(sid, body, now, peer_ip=str(event.get("ip", "")),
                                        request=request)
            if isinstance(body, SpeakRequest):
                record = state.interphones.get(body.id)
                uid = state.sessions[sid].uid if sid in state.sessions else ""
                if record is not None and record.holder == uid and uid and before != uid:
                    self.grants[str(body.id)] = log_id
        elif kind == "read":
            if request is not None:
                outbox = state.apply_shared(sid, request.body, now, request=request)
        elif kind == "logout":
            outbox = state.logout(sid)
        elif kind == "media":
            source = int(event.get("from", node_of(sid)))
            self.learn_relay(source, tuple(event["addr"]))
            interphone, uid = InterphoneId.parse(event["id"]), str(event["uid"])
            if source != self.node:
                state.register_shared_media(interphone, uid, sid, tuple(event["addr"]),
                                            remote=True)
            elif state.register_shared_media(interphone, uid, sid, tuple(event["client"]),
                                             remote=False):
                self.datagrams.append((RecvBeginPacket(str(event["key"]), uid).serialize(),
                                       tuple(event["client"])))
        elif kind == "revoke":
            record = state.interphones.get(InterphoneId.parse(event["id"]))
            if (record is not None and record.holder == event["uid"]
                    and self.grants.get(event["id"]) == event["grant"]):
                state.revoke(record, str(event["reason"]), outbox)
        elif kind == "down":
            outbox = self._down(int(event["node"]))
        else:
            log.warning("unknown event in the shared log: %r", event)
        if mine:
            self._release(sid, now, outbox)
        return outbox

    def _down(self, node: int) -> Outbox:
        outbox = Outbox()
        for sid in [s for s in self.state.sessions if node_of(s) == node]:
            outbox.extend(self.state.logout(sid))
        relay = self.relays.pop(node, None)
        if relay is not None:  # members of other nodes who listened through that relay
            for record in self.state.interphones.values():
                for uid in [u for u in record.remote if record.addrs.get(u) == relay]:
                    record.drop_addr(uid)
        if node == self.node:  # the others gave this node up: its clients start again
            for sid in list(self.state.peers):
                outbox.close(sid)
        outbox.log(f"node {node} is down: its sessions ended")
        return outbox

    def _release(self, sid: int, now: float, outbox: Outbox) -> None:
        """The request of ``sid`` in flight is answered: answer what waited behind it."""
        queue = self.held.pop(sid, None)
        while queue:
            peer = self.state.peers.get(sid)
            if peer is None or peer.closing:
                return
            outbox.extend(self.state.answer(peer, queue.popleft(), now))
            if sid in self.held:  # another change went into the log: the rest waits again
                self.held[sid].extend(queue)
                return


def request_event(sid: int, body: object, peer_ip: str) -> Event:
    match body:
        case Login(uid=uid, features=features):
            return {"t": "login", "sid": sid, "uid": uid, "ip": peer_ip,
                    "features": list(features)}
        case JoinRequest(interphone, member):
            return {"t": "join", "sid": sid, "id": str(interphone), "member": member}
        case QuitRequest(interphone, member):
            return {"t": "quit", "sid": sid, "id": str(interphone), "member": member}
        case SpeakRequest(on, interphone):
            return {"t": "speak", "sid": sid, "id": str(interphone), "on": on}
        case SyncRequest() | MembersRequest():
            return {"t": "read", "sid": sid}
    raise ValueError(f"not a shared request: {body!r}")


def body_of(event: Event) -> Login | JoinRequest | QuitRequest | SpeakRequest:
    kind = event["t"]
    if kind == "login":
        return Login(event["uid"], "", features=tuple(event.get("features", ())))
    interphone = InterphoneId.parse(event["id"])
    if kind == "join":
        return JoinRequest(interphone, event.get("member"))
    if kind == "quit":
        return QuitRequest(interphone, event.get("member"))
    return SpeakRequest(bool(event["on"]), interphone)
