"""The per-connection rules of :class:`~app.server.state.ServerState`: bytes in, frames,
the rate bucket, malformed frames, frames held during a login check, requests bounded per
turn of the event loop (presence syncs: those past the bound, and what follows them, wait
for :meth:`~ConnectionRules.next_turn`), closing a peer, and the login, idle and
write-stall deadlines of every connection.

A mixin over :class:`~app.server.state_base.StateBase`; what a decoded request does is
the state's :meth:`~app.server.state.ServerState._answer`.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence

from app.protocol.errors import ErrCode, FrameTooLarge, MalformedFrame, ProtocolError
from app.protocol.messages import (
    EmergencyRequest,
    JoinRequest,
    Message,
    MessageKind,
    QuitRequest,
    SpeakRequest,
)
from app.protocol.presence import CallAction, CallRequest, PresenceSyncRequest
from app.protocol.replies import protocol_error_reply, refusal
from app.protocol.xmlcodec import decode_message
from app.server.addr_limits import address_key
from app.server.outbox import Outbox
from app.server.peers import Peer
from app.server.state_base import StateBase

log = logging.getLogger(__name__)

_NOT_ANSWERED = frozenset({MessageKind.RESPONSE.value, MessageKind.NOTIFICATION.value})
"""Envelope types a client may not send and the server never answers
(docs/protocol-extensions.md 1.4.1): the server sends no requests, and a notification
has no seq an answer could name."""

HELD_FRAMES_LIMIT = 32
"""Frames a connection may send while its login is being checked (beyond: closed)."""
DEFERRED_FRAMES_LIMIT = 1024
"""Frames a connection may have waiting behind a deferred request (beyond: closed). The
I/O layer stops reading it meanwhile, so only the frames of a read or two wait; the
rate bucket (``rate_burst``) is charged when they are answered."""


def _membership_cost(message: Message) -> str | None:
    """What ``message`` does that costs the session's membership budget (for the 429's
    errmsg), or None. A join or a leave tells every member and watcher; a call ``ring``
    (extension presence) may start a ring again after the caller's ``cancel``, which
    rings the callee's desktop each time; an emergency raise or cancel (extension
    emergency) sounds or stops the alert of every member. Without the budget, ring and
    cancel in turn rang another user 25 times a second, and raise and cancel in turn
    alerted a whole group as often."""
    body = message.body
    if isinstance(body, JoinRequest | QuitRequest):
        return "joins and leaves"
    if isinstance(body, CallRequest) and body.action is CallAction.RING:
        return "calls"
    if isinstance(body, EmergencyRequest):
        return "emergency raises and cancels"
    return None


class ConnectionRules(StateBase):
    """Connections opened, fed, paused, timed out and closed."""

    def connect(self, sid: int, peer_ip: str, now: float) -> bool:
        """A connection was accepted; False if the server is full (drop it unanswered)."""
        address = address_key(peer_ip)
        if len(self.peers) >= self.settings.max_sessions:
            self.refusals.refused(address, f"{len(self.peers)} connections open", now)
            return False
        if not self.address_limits.open(address):
            self.refusals.refused(address, "too many connections before login", now)
            return False
        peer = self.peers[sid] = Peer.open(sid, peer_ip, now, self.settings)
        self._arm_peer(peer, peer.deadline(self.settings, logged_in=False))
        return True

    def disconnect(self, sid: int) -> Outbox:
        """The connection is gone: forget the peer and end its session. Idempotent."""
        peer = self.peers.pop(sid, None)
        if peer is not None:
            self._uncount(peer)
        if self.shared is not None:
            outbox = Outbox() if self.shared.available else self.session_lost_alone(sid)
            self.shared.session_gone(sid)
            return outbox
        return self.logout(sid)

    def lost(self, sid: int) -> None:
        """The connection of ``sid`` is lost and its session ends later (:meth:`disconnect`,
        a few per turn of the event loop): meanwhile nothing of it is answered, and the
        notices of other sessions' ends are not queued for it."""
        peer = self.peers.get(sid)
        if peer is not None:
            peer.closing = peer.lost = True
            self.presence.watcher_lost(sid)

    def writing_paused(self, sid: int, now: float) -> None:
        """The peer's output backed up above the high-water mark (its stall clock starts)."""
        peer = self.peers.get(sid)
        if peer is None or peer.paused_since is not None:
            return
        peer.paused_since = now
        deadline = peer.deadline(self.settings, logged_in=sid in self.sessions)
        if deadline < peer.timer_at:
            self._arm_peer(peer, deadline)

    def writing_resumed(self, sid: int) -> None:
        peer = self.peers.get(sid)
        if peer is not None:
            peer.paused_since = None

    def receive_data(self, sid: int, data: bytes, now: float) -> Outbox:
        """Bytes from connection ``sid``: answer every whole frame they complete.

        Per-peer rules, in order for each frame: the rate bucket is charged; a
        frame that does not decode is answered with an error, and one that is not
        a well-formed ``<message>`` document is counted (the ``max_malformed``-th
        closes the session, PROTOCOL.md section 1.1); only requests are answered; a
        request over the rate limit gets 429; anything but login before a
        login gets 401. A frame header over the size limit aborts the
        connection (the stream cannot be resynchronised).
        """
        outbox = Outbox()
        self.now = now
        peer = self.peers.get(sid)
        if peer is None or peer.closing:
            return outbox
        peer.last_rx = now
        self.now = now
        try:
            frames = peer.decoder.feed(data)
        except FrameTooLarge as exc:
            outbox.log(f"closing session {sid}: {exc}")
            self._close_peer(sid, outbox, abort=True)
            return outbox
        self._receive_frames(peer, frames, now, outbox)
        return outbox

    def read_pause(self, sid: int, size: int, now: float) -> float:
        """``size`` bytes of ``sid`` were read or answered: the seconds its reading must
        now pause (0.0: none). Every frame costs a parse, also one refused with 429, and
        every answer its encoding, so a peer that streams large frames or asks for large
        answers would take the event loop from everyone: what it sends beyond its byte
        budget (``login_read_*`` before the login, ``read_*`` after) waits in its socket,
        and TCP slows it down."""
        peer = self.peers.get(sid)
        if peer is None or peer.closing:
            return 0.0
        return peer.reads.spend(size, now)

    def _receive_frames(self, peer: Peer, frames: list[bytes], now: float,
                        outbox: Outbox) -> None:
        for index, frame in enumerate(frames):
            if peer.closing:
                break
            if peer.checking is not None:  # a login is being checked: the rest waits
                peer.held += frames[index:]
                if len(peer.held) > HELD_FRAMES_LIMIT:
                    outbox.log(f"closing session {peer.sid}: too many frames during login")
                    self._close_peer(peer.sid, outbox)
                break
            if peer.deferred:  # an earlier request waits for a later turn: these after it
                self._defer(peer, frames[index:], outbox)
                break
            try:
                self._receive_frame(peer, frame, now, outbox)
            except Exception:
                log.exception("fault handling a frame of session %d", peer.sid)
                outbox.send(peer.sid, Message.frame_error("server fault", ErrCode.SERVER_FAULT))

    def _defer(self, peer: Peer, items: Sequence[bytes | Message], outbox: Outbox) -> None:
        peer.deferred += items
        self.deferred_sids[peer.sid] = None
        if len(peer.deferred) > DEFERRED_FRAMES_LIMIT:
            outbox.log(f"closing session {peer.sid}: too many frames behind a deferred request")
            self._close_peer(peer.sid, outbox)

    def deferring(self, sid: int) -> bool:
        """Whether requests of ``sid`` wait for a later turn (its reading may pause)."""
        peer = self.peers.get(sid)
        return peer is not None and bool(peer.deferred)

    def turn_used(self) -> bool:
        """Whether :meth:`next_turn` has something to do: this turn answered a bounded
        request, or some wait for a later turn."""
        bound = self.syncs_per_turn
        return bound is not None and (self.syncs_left < bound or bool(self.deferred_sids))

    def next_turn(self, now: float) -> Outbox:
        """A new turn of the event loop (with :attr:`syncs_per_turn` set): its presence
        syncs may be answered again, those deferred first, a session after another (each
        session's requests in the order it sent them: PROTOCOL.md), as many as the bound
        lets; the rest wait for the next turn, other clients being answered between."""
        self.syncs_left = self.syncs_per_turn or 0
        outbox = Outbox()
        while self.deferred_sids and self.syncs_left > 0:
            sid = next(iter(self.deferred_sids))
            del self.deferred_sids[sid]
            peer = self.peers.get(sid)
            if peer is None or peer.closing:
                continue
            items, peer.deferred = peer.deferred, []
            for index, item in enumerate(items):
                if peer.closing:
                    break
                if peer.deferred:
                    self._defer(peer, items[index:], outbox)
                    break
                try:
                    if isinstance(item, Message):
                        self._answer_bounded(peer, item, now, outbox)
                    else:
                        self._receive_frame(peer, item, now, outbox)
                except Exception:
                    log.exception("fault handling a frame of session %d", peer.sid)
                    outbox.send(peer.sid, Message.frame_error("server fault",
                                                              ErrCode.SERVER_FAULT))
        return outbox

    def _answer_bounded(self, peer: Peer, message: Message, now: float,
                        outbox: Outbox) -> None:
        """Answer ``message``, or defer it to a later turn if its kind's bound for this
        turn is reached (a presence sync of a thousand contacts: ~1-2 ms; after a reload's
        roster notices every client asks one, and answered all in one turn they held the
        loop for seconds)."""
        if self.syncs_per_turn is not None and isinstance(message.body, PresenceSyncRequest):
            if self.syncs_left <= 0:
                self._defer(peer, [message], outbox)
                return
            self.syncs_left -= 1
        self._answer(peer, message, now, outbox)

    def _receive_frame(self, peer: Peer, frame: bytes, now: float, outbox: Outbox) -> None:
        sid = peer.sid
        allowed = peer.bucket.take(now)
        try:
            message = decode_message(frame)
        except ProtocolError as exc:
            if not isinstance(exc, MalformedFrame) and exc.kind in _NOT_ANSWERED:
                return  # a client's response or notification is ignored, whatever it holds
            outbox.send(sid, protocol_error_reply(exc))
            if not isinstance(exc, MalformedFrame):
                return  # a well-formed <message> that does not decode: answered, not counted
            peer.malformed += 1
            if peer.malformed >= self.settings.max_malformed:
                outbox.log(f"closing session {sid}: {peer.malformed} malformed frames")
                self._close_peer(sid, outbox)
            return
        if message.kind is not MessageKind.REQUEST:
            return  # nothing a client sends besides requests needs an answer
        if not allowed:
            outbox.send(sid, refusal(message, ErrCode.TOO_MANY_REQUESTS, "too many requests"))
            return
        cost = _membership_cost(message)
        if cost is not None and not peer.memberships.take(now):
            outbox.send(sid, refusal(message, ErrCode.TOO_MANY_REQUESTS, f"too many {cost}"))
            return
        if isinstance(message.body, SpeakRequest) and message.body.on \
                and not peer.floor_requests.take(now):
            # toggling speak on and off made two notifications to every member each time,
            # 50 a second from one client; off is never refused (a holder can let go)
            outbox.send(sid, refusal(message, ErrCode.TOO_MANY_REQUESTS,
                                     "too many floor requests"))
            return
        self._answer_bounded(peer, message, now, outbox)

    def _close_peer(self, sid: int, outbox: Outbox, *, abort: bool = False) -> None:
        """Ask the I/O layer to close ``sid`` (flushing first unless ``abort``); from now
        on its bytes are ignored."""
        peer = self.peers.get(sid)
        if peer is not None:
            peer.closing = True
        if abort:
            outbox.abort(sid)
        else:
            outbox.close(sid)

    def _expire_peers(self, now: float, outbox: Outbox) -> None:
        # Each peer has one live heap entry (at ``peer.timer_at``); deadlines that moved
        # later (data received, logged in) are found here and the entry re-armed.
        timers = self._peer_timers
        while timers and timers[0][0] <= now:
            at, sid = heapq.heappop(timers)
            peer = self.peers.get(sid)
            if peer is None or peer.closing or peer.timer_at != at:
                continue
            logged_in = sid in self.sessions
            expiry = peer.expiry(self.settings, now, logged_in=logged_in)
            if expiry is None:
                self._arm_peer(peer, peer.deadline(self.settings, logged_in=logged_in))
                continue
            outbox.log(f"closing session {sid}: {expiry.reason}")
            self._close_peer(sid, outbox, abort=expiry.abort)

    def _arm_peer(self, peer: Peer, deadline: float) -> None:
        peer.timer_at = deadline
        heapq.heappush(self._peer_timers, (deadline, peer.sid))
