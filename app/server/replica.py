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
``revoke`` (id, uid, grant: the log id of the grant, reason), ``down`` (node, and
``left`` when it stopped and said so itself: every session of that node ends; a node that
applies its own was given up by the others). A request's event also carries ``node`` and ``ref`` so
that its node answers it (a ``speak`` off without them: a release its node answered alone
while the log was out of reach, :mod:`app.server.lone_release`).
Every event a node appends carries ``by`` and ``eid`` (its number, its counter): one
appended twice, after an append whose reply was lost, is applied once
(:mod:`app.server.event_ids`, the replica's :attr:`Replica.ids`).

A request whose append went wrong after it was sent may or may not be in the log: it is
answered, refused or undone as the log turns out (:mod:`app.server.append_doubt`, the
replica's :attr:`Replica.doubt`).

The extensions' requests go through the log too, so that every node applies them in one
order: ``speak`` carries ``queue`` and ``emergency`` (floor-queue, emergency),
``emergency`` (sid, id, action), ``call`` (sid, id, action: presence), and
``<presence>`` is a ``read``. Their timers are judged by one node and appended:
``qexpire`` (id, uids: queued requests past ``queue_timeout``, judged by the node of
each queued session), ``ringend`` (id, caller, callee: an unanswered call, judged by
the caller's node). ``reload`` (kick: uids, leave: [sid, id] pairs) is what a node's
directory reload ends on every node: the sessions of removed users, and memberships
the new directory hides.

Not in the log: the extension ``feedback``'s quality reports. A node passes those of its
listeners about a floor holder on another node to that node alone
(:attr:`Replica.feedback`, :mod:`app.server.feedback_carrier`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from app.protocol.errors import ErrCode
from app.protocol.ids import InterphoneId
from app.protocol.messages import (
    EmergencyRequest,
    JoinRequest,
    Kicked,
    Login,
    MembersRequest,
    Message,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.presence import CallRequest, PresenceSyncRequest
from app.protocol.replies import refusal
from app.protocol.udp import RecvBeginPacket
from app.server.append_doubt import AppendDoubt, TurnedUp
from app.server.cluster_keys import ClusterKeySource
from app.server.directory import Directory
from app.server.directory_changes import DirectoryChanges
from app.server.event_ids import EventIds
from app.server.feedback_carrier import CarriedReport, FeedbackCarrier
from app.server.floor import Floor
from app.server.log_events import Event, body_of, request_event
from app.server.outbox import Outbox, Refused
from app.server.peers import Peer
from app.server.records import Address, Interphone, Session
from app.server.state import ACCOUNT_REMOVED, ServerState

log = logging.getLogger(__name__)


SHARED_REQUESTS = (Login, JoinRequest, QuitRequest, SpeakRequest, SyncRequest, MembersRequest,
                   EmergencyRequest, CallRequest, PresenceSyncRequest)
"""The requests that go through the log: the changes, and the reads (sync, members) so that
they see every change any node acknowledged before (a ``read`` event, applied by its own
node only, is answered when it comes back). Pings and quality reports are answered
locally."""

APPLIED_REQUESTS = ("login", "join", "quit", "speak", "emergency", "call")
"""Events applied by every node as the request they stand for."""

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
        self.refused = 0
        """Requests refused since the start because the log could not take them (errcode
        500, :data:`UNAVAILABLE`): ``interphone_requests_refused_total{reason}``."""
        self.outgoing: list[Event] = []
        self.pending: dict[int, tuple[int, Message]] = {}  # ref -> (sid, request)
        self.doubt = AppendDoubt(self)
        """This node's requests whose place in the log is not known yet."""
        self.held: dict[int, deque[Message]] = {}  # sid -> requests behind its one in flight
        self.grants: dict[str, str] = {}  # interphone id -> log id of its current grant
        self.datagrams: list[tuple[bytes, Address]] = []
        """recvbegin acknowledgements to send from this node's relay (the driver sends
        them): a registration is acknowledged once the log handed it back."""
        self.relays: dict[int, Address] = {}  # node -> its relay's address (media events)
        self.gone: set[int] = set()
        """Nodes whose ``down`` this node applied: never learned again (numbers are not
        reused), even from a node list read before their ``down`` was."""
        self.expiring: set[tuple[str, str]] = set()
        """(interphone, uid) of queued requests whose expiry this node appended (not yet
        back from the log: not asked again)."""
        self._refs = itertools.count(1)
        self.ids = EventIds(node)
        """This node's events' ``eid``, and the highest applied of every node."""
        self._entry = ""  # the log id of the entry being applied
        self._entry_ids = 0  # emergency ids given while applying it
        self.wake: Callable[[], None] = _nothing
        """Called whenever an event is added to :attr:`outgoing` (the driver's writer)."""
        self.given_up: Callable[[], None] = _nothing
        """Called when this node applies its own ``down``: the others gave it up (cut off
        from the log for longer than its heartbeat's TTL) and refuse what it forwards; it
        must start again as a new node (the driver stops it)."""
        self.key_source: ClusterKeySource | None = None
        self.feedback = FeedbackCarrier()
        """Extension ``feedback``: this node's listeners' reports for holders on other nodes
        (not through the log: the driver publishes them to the holder's node)."""
        state.shared = self

    def use_media_secret(self, secret: bytes) -> None:
        """media-auth voice keys derive from the cluster's ``secret`` (every node alike)."""
        self.key_source = ClusterKeySource(secret)
        self.state.media_keys.derive = self.key_source

    def emit(self, event: Event) -> None:
        """Hands ``event`` to the log (:attr:`outgoing`, appended by the driver)."""
        self.outgoing.append(self.ids.stamp(event))
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
            self.state.check_login(sid, body.uid, body.token, body.features)
            if sid in self.doubt.blocked:  # (a late login of this sid may be about to be undone)
                self.refused += 1
                raise Refused(ErrCode.SERVER_FAULT, UNAVAILABLE)
            if sid in self.state.sessions:
                return False  # the same uid again: nothing changes
        elif sid not in self.state.sessions:
            return False  # 401, answered here
        if (not self.available or sid in self.doubt.blocked) and isinstance(body, SpeakRequest) \
                and not body.on:
            return False  # a release works without the log (app.server.lone_release)
        if not self.available or sid in self.doubt.blocked:
            self.refused += 1
            raise Refused(ErrCode.SERVER_FAULT, UNAVAILABLE)
        event = request_event(sid, body, peer.ip)
        ref = next(self._refs)
        event["node"], event["ref"] = self.node, ref
        self.pending[ref] = (sid, request)
        self.doubt.asked(ref, event, now)
        self.held[sid] = deque()
        self.emit(event)
        return True

    def released_alone(self, sid: int, interphone: InterphoneId) -> None:
        self.emit({"t": "speak", "sid": sid, "id": str(interphone), "on": False})

    def session_gone(self, sid: int) -> None:
        in_flight = self.held.pop(sid, None) is not None
        if in_flight or sid in self.state.sessions:
            self.emit({"t": "logout", "sid": sid})

    def media_registered(self, record: Interphone, uid: str, sid: int, key: str,
                         address: Address) -> None:
        self.emit({"t": "media", "sid": sid, "uid": uid, "id": str(record.id),
                    "from": self.node, "addr": list(self.media_address[:2]),
                    "key": key, "client": list(address)})

    def sealed_registered(self, record: Interphone, uid: str, sid: int) -> None:
        """media-auth: ``uid`` registered (authenticated recvbegin, acknowledged already) at
        this node's relay: the other nodes send it ``record``'s sealed audio there."""
        self.emit({"t": "media", "sid": sid, "uid": uid, "id": str(record.id),
                    "from": self.node, "addr": list(self.media_address[:2]), "sealed": True})

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
            self.emit({"t": "revoke", "id": str(record.id), "uid": record.holder,
                                  "grant": grant, "reason": reason})

    def queue_expired(self, record: Interphone, now: float) -> bool:
        """Appends the expiry of the queued requests of ``record`` past their
        ``queue_timeout`` whose sessions are this node's (each node judges its own); True
        while some wait for the log."""
        key = str(record.id)
        uids = [uid for uid in record.floor.expired(now)
                if record.members.get(uid) in self.state.peers and (key, uid) not in self.expiring]
        if uids:
            self.expiring.update((key, uid) for uid in uids)
            self.emit({"t": "qexpire", "id": key, "uids": uids})
        return any(k == key for k, _ in self.expiring)

    def ring_expired(self, chat: InterphoneId, caller: str, callee: str) -> bool:
        """An unanswered call of ``caller`` timed out: True if this node judges it (the
        caller's session is here) and appended its end; the others wait for the log."""
        if self.state.by_uid.get(caller) not in self.state.peers:
            return False
        self.emit({"t": "ringend", "id": str(chat), "caller": caller, "callee": callee})
        return True

    def carry_report(self, holder_sid: int, report: CarriedReport) -> None:
        node = node_of(holder_sid)
        if node != self.node:  # (this node's: a holder whose connection just closed)
            self.feedback.add(node, report)

    def new_emergency_id(self) -> str:
        """The log id of the entry that raises it (``'1764670000123-0'``; a second raise by
        one entry adds ``.2``): every node applies that entry, and log ids only grow."""
        self._entry_ids += 1
        return self._entry if self._entry_ids == 1 else f"{self._entry}.{self._entry_ids}"

    def replace_directory(self, directory: Directory, now: float,
                          rosters: list[int] | None = None) -> Outbox:
        """A reload of this node's directory file (each node reloads its own). Removed users
        and memberships the new directory hides end through the log, on every node: the
        sessions of every node, not only this one's, even if the other nodes have not
        reloaded yet. This node's sessions stop watching what they may no longer see
        (``rosters``: as :meth:`~app.server.state.ServerState.replace_directory`'s)."""
        state, auth = self.state, self.state.settings.auth
        changes = DirectoryChanges.between(state.directory, directory, state.settings)
        previous, state.directory = state.directory, directory
        online_removed = [u for u in changes.users_removed if u in state.by_uid]
        kick = online_removed if auth == "token" else []  # "open": watched until they end
        leave: list[list[Any]] = []
        for session in state.sessions.values():
            if session.uid in kick:
                continue
            leave += [[session.sid, str(i)] for i in session.joined
                      if not directory.may_see(session.uid, i, auth)]
            if session.sid in state.peers:
                for interphone in [i for i in session.subscriptions
                                   if not directory.may_see(session.uid, i, auth)]:
                    state.stop_watching(session.sid, interphone)
        if kick or leave:
            self.emit({"t": "reload", "kick": kick, "leave": leave})
        outbox = Outbox()
        for session in list(state.sessions.values()):  # extension roster
            if session.uid not in kick and session.sid in state.peers:
                state.presence.roster_reloaded(session, leaving=online_removed)
                if rosters is not None:
                    rosters.append(session.sid)  # told a few at a time by the server
                else:
                    state.tell_roster(session.sid, previous, outbox)
        outbox.log(f"directory reloaded: {changes.describe()}; {len(kick)} session(s) to kick, "
                   f"{len(leave)} membership(s) to end (through the shared log)")
        return outbox

    # ---- the driver's side ---------------------------------------------------------------------

    def learn_relay(self, node: int, address: Address, name: str = "") -> None:
        """``node``'s relay is at ``address`` (its media events, the store's node list, which
        also gives its ``name``); its forwarded audio is heard
        (:meth:`app.server.node_auth.NodeAuth.learn`)."""
        if node != self.node and node not in self.gone and not self._former_self(address):
            self.relays[node] = address
            self.state.media_gate.relays.add(address)
            auth = self.state.node_auth
            if auth is not None:
                label = auth.relay_names.get(address[:2], "")
                if name or not label.startswith(f"node {node} "):
                    label = f"node {node} ({name})" if name else f"node {node}"
                auth.relay_names[address[:2]] = label
                auth.learn(node)

    def _former_self(self, relay: Address) -> bool:
        """Whether ``relay`` is this node's own address: another node's there is a former
        node at this address (a restart in place) not given up yet, whose listeners' audio
        must not come back here (their sessions end with it)."""
        return tuple(relay[:2]) == tuple(self.media_address[:2])

    def snapshot(self, log_id: str, now: float = 0.0) -> Event:
        """The shared state after entry ``log_id``, for a node that starts later (JSON;
        ``now``: this node's clock, for the time left to queued requests)."""
        state = self.state
        interphones = []
        for record in state.interphones.values():
            media = [[uid, list((addr if uid in record.remote else self.media_address)[:2])]
                     for uid, addr in record.addrs.items()]
            media += [[uid, list(self.media_address[:2])] for uid in record.members
                      if uid not in record.addrs  # media-auth: registered at this node's gate
                      and state.media_gate.registered(str(record.id), uid) is not None]
            interphones.append({"id": str(record.id), "members": list(record.members.items()),
                                "holder": record.holder,
                                "grant": self.grants.get(str(record.id), ""), "media": media,
                                "floor": record.floor.snapshot(now)})
        relays = {str(n): list(a[:2]) for n, a in self.relays.items()}
        relays[str(self.node)] = list(self.media_address[:2])
        return {"at": log_id, "relays": relays, "interphones": interphones,
                "media_keys": state.media_keys.snapshot(),
                "rings": state.presence.snapshot_rings(now),
                "eids": self.ids.snapshot(),
                "sessions": [[sid, x.uid, x.peer_ip, sorted(x.features),
                              [str(i) for i in x.joined]] for sid, x in state.sessions.items()]}

    def restore(self, snapshot: Event, now: float) -> None:
        """Start from ``snapshot`` (this node has applied nothing yet)."""
        self.ids.restore(snapshot.get("eids", {}))
        for node, relay in snapshot["relays"].items():
            self.learn_relay(int(node), tuple(relay))
        sessions = [Session(int(sid), uid, ip, features=frozenset(features),
                            joined={InterphoneId.parse(i): None for i in joined})
                    for sid, uid, ip, features, joined in snapshot["sessions"]]
        records = []
        for item in snapshot["interphones"]:
            record = Interphone(InterphoneId.parse(item["id"]))
            record.floor = Floor(self.state.directory.floor_policy(record.id,
                                                                   self.state.settings),
                                 self.state.new_emergency_id)
            record.floor.restore(item.get("floor", {"holder": item["holder"]}), now)
            if record.floor.emergency_by and not record.floor.emergency_id:
                # written before emergencies had ids: the snapshot's own log entry id names
                # it, the same on every node that starts from this snapshot, and below the
                # id of any emergency raised after it
                record.floor.emergency_id = str(snapshot["at"])
            record.members = {uid: int(sid) for uid, sid in item["members"]}
            record.holder = record.floor.holder
            record.granted_at = record.last_audio_at = now
            if item["grant"]:
                self.grants[item["id"]] = item["grant"]
            for uid, relay in item["media"]:
                if not self._former_self(tuple(relay)):
                    record.set_addr(uid, tuple(relay), remote=True)
            records.append(record)
        self.state.restore(sessions, records)
        for session in sessions:  # media-auth sessions (other nodes'): grants get numbers
            self.state.media_login(session)
        if "media_keys" in snapshot:
            self.state.media_keys.restore(snapshot["media_keys"])
        self.state.presence.restore_rings(snapshot.get("rings", []), now)
        for record in records:  # the queued requests' expiry (judged by their nodes)
            deadline = record.floor.next_deadline()
            if deadline is not None:
                heapq.heappush(self.state._queue_timers, (deadline, str(record.id)))

    def take_datagrams(self) -> list[tuple[bytes, Address]]:
        datagrams, self.datagrams = self.datagrams, []
        return datagrams

    def take_outgoing(self) -> list[Event]:
        events, self.outgoing = self.outgoing, []
        return events

    def node_down(self, node: int) -> None:
        """Another node stopped beating: its sessions end (appended, applied in order; the
        Redis store appends it itself, in one step with removing it from its node list)."""
        self.emit({"t": "down", "node": node})

    def apply(self, log_id: str, event: Event, now: float) -> Outbox:
        """Apply one event of the log (this node's or another's), in the log's order."""
        if self.ids.repeated(event):
            log.debug("log entry %s skipped: node %s's event %s applied already (appended "
                      "again after an append whose reply was lost)", log_id, event["by"],
                      event["eid"])
            return Outbox()
        state = self.state
        kind = event.get("t")
        request: Message | None = None
        sid = int(event.get("sid", 0))
        mine = event.get("node") == self.node and "ref" in event
        turned_up: TurnedUp | None = None  # this node's request refused, in the log after all
        if mine:
            ref = int(event["ref"])
            turned_up = self.doubt.in_log(ref)
            sid, request = self.pending.pop(ref, (sid, None))
        outbox = Outbox()
        self._entry, self._entry_ids = log_id, 0
        if self.key_source is not None:
            self.key_source.entry = log_id  # the keys this entry rotates derive from it
        if kind in APPLIED_REQUESTS:
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
                if self._former_self(tuple(event["addr"])):
                    pass  # registered at a former node at this address: gone with it
                elif state.register_shared_media(interphone, uid, sid, tuple(event["addr"]),
                                                 remote=True) and event.get("sealed"):
                    state.media_gate.changed()  # its sealed audio now goes there too
            elif event.get("sealed"):
                pass  # registered and acknowledged by this node's gate already
            elif state.register_shared_media(interphone, uid, sid, tuple(event["client"]),
                                             remote=False):
                self.datagrams.append((RecvBeginPacket(str(event["key"]), uid).serialize(),
                                       tuple(event["client"])))
        elif kind == "revoke":
            record = state.interphones.get(InterphoneId.parse(event["id"]))
            if (record is not None and record.floor.holder == event["uid"]
                    and self.grants.get(event["id"]) == event["grant"]):
                state.revoke(record, str(event["reason"]), outbox)
        elif kind == "down":
            outbox = self._down(int(event["node"]), left=bool(event.get("left")))
        elif kind == "qexpire":
            key = str(event["id"])
            uids = [str(uid) for uid in event["uids"]]
            self.expiring.difference_update((key, uid) for uid in uids)
            record = state.interphones.get(InterphoneId.parse(key))
            if record is not None:
                state.now = now
                state.expire_queued(record, uids, outbox)
        elif kind == "ringend":
            state.presence.ring_timed_out(InterphoneId.parse(event["id"]), str(event["caller"]),
                                          str(event["callee"]), outbox)
        elif kind == "reload":
            outbox = self._reload(event, now)
        else:
            log.warning("unknown event in the shared log: %r", event)
        if mine:
            self._release(sid, now, outbox)
        self.doubt.applied(turned_up, event, sid, outbox)
        return outbox

    def _down(self, node: int, *, left: bool = False) -> Outbox:
        """``node`` is gone: given up by the others (its heartbeat stopped), or ``left``
        (it stopped and said so itself)."""
        outbox = Outbox()
        label = self._describe(node)
        self.gone.add(node)
        if self.state.node_auth is not None and node != self.node:
            self.state.node_auth.forget(node)  # its audio, forwarded or replayed, is refused
        for sid in [s for s in self.state.sessions if node_of(s) == node]:
            outbox.extend(self.state.logout(sid))
        relay = self.relays.pop(node, None)
        if relay is not None and relay not in self.relays.values():
            # members of other nodes who listened through that relay (unless a node started
            # since on the same address, a restart, has it now: its listeners are there)
            self.state.media_gate.relays.discard(relay)
            self.state.media_gate.changed()
            for record in self.state.interphones.values():
                for uid in [u for u in record.remote if record.addrs.get(u) == relay]:
                    record.drop_addr(uid)
        if node == self.node:  # the others gave this node up: its clients start again
            for sid in list(self.state.peers):
                outbox.close(sid)
            self.given_up()
        outbox.log(f"{label} {'left (stopped)' if left else 'is down'}: its sessions ended")
        return outbox

    def _describe(self, node: int) -> str:
        """``node 3 (nodeB, relay 10.0.0.12:9400)`` as far as this node knows it."""
        relay = self.relays.get(node)
        if relay is None:
            return f"node {node}"
        auth = self.state.node_auth
        label = auth.relay_names.get(relay[:2], "") if auth is not None else ""
        where = f"relay {relay[0]}:{relay[1]}"
        if label.startswith(f"node {node} (") and label.endswith(")"):
            return f"{label[:-1]}, {where})"
        return f"node {node} ({where})"

    def _reload(self, event: Event, now: float) -> Outbox:
        """A node's reload: removed users' sessions end (kicked by their own node), and the
        memberships its directory hides."""
        state, outbox = self.state, Outbox()
        state.now = now
        leaving = [(int(sid), InterphoneId.parse(str(text)))
                   for sid, text in event.get("leave", ())]
        kicked = [state.sessions.get(state.by_uid.get(str(u), -1)) for u in event.get("kick", ())]
        state.withdraw_waiting(leaving + [(k.sid, i) for k in kicked if k for i in k.joined],
                               outbox)  # (no grant to one the reload takes out: 1.6)
        for uid in event.get("kick", ()):
            sid = state.by_uid.get(str(uid))
            if sid is None:
                continue
            outbox.log(f"kick uid={uid} session={sid} reason={ACCOUNT_REMOVED}")  # every node
            if sid in state.peers:
                outbox.send(sid, Message.notification(Kicked(ACCOUNT_REMOVED)))
                outbox.close(sid)
            outbox.extend(state.logout(sid))
        for sid, interphone in leaving:
            outbox.extend(state.remove(sid, interphone, "directory reload"))
        return outbox

    def refuse(self, sid: int, request: Message, now: float, outbox: Outbox,
               line: str = "") -> None:
        """Refuses the request of ``sid`` in flight (the log did not take it, or not in
        time), logging ``line`` if any, and answers what waited behind it. A ``speak off``
        is asked again instead, first: a release must not be lost (while the store is
        unreachable this node answers it alone, :mod:`app.server.lone_release`)."""
        if isinstance(request.body, SpeakRequest) and not request.body.on:
            outbox.log(f"session={sid} speak off not confirmed by the shared log: asked again")
            self.held.setdefault(sid, deque()).appendleft(request)
            self._release(sid, now, outbox)
            return
        self.refused += 1
        outbox.send(sid, refusal(request, ErrCode.SERVER_FAULT, UNAVAILABLE))
        if line:
            outbox.log(line)
        self._release(sid, now, outbox)

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

