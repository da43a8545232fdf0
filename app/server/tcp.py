"""Signaling over TCP, a thin driver around :class:`~app.server.state.ServerState`.

bytes in (:meth:`ServerConnection.data_received`) → the state
(:meth:`~app.server.state.ServerState.receive_data`: framing, decoding, every
rule) → an :class:`~app.server.outbox.Outbox` → bytes out
(:meth:`SignalingServer.deliver`: encode each message once, write, close).
What stays here is what only the socket knows: the transport, its write
buffer (a bounded queue that coalesces notifications per interphone) and one
event-loop timer for the state's :meth:`~app.server.state.ServerState.next_deadline`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import cast

from app.protocol.errors import ErrCode
from app.protocol.framing import encode_frame
from app.protocol.messages import InterphoneChanged, Message, MessageKind
from app.protocol.replies import failed_answer
from app.protocol.xmlcodec import encode_message
from app.server.addr_limits import ConnectionLimits, address_key
from app.server.login_guard import LoginGuard, LoginOutcome
from app.server.outbox import LoginCheck, Outbox
from app.server.settings import address_limit_settings
from app.server.state import ServerState

log = logging.getLogger("app.server")

_CLOSE_GRACE = 5.0  # seconds a closing transport may take to flush before it is aborted
SYNCS_PER_TURN = 4
"""Presence syncs answered per turn of the event loop (~1-2 ms each for a thousand
contacts); more wait for the next turns, the other clients' requests answered between
(after a reload's roster notices every client asks one)."""
ENDS_PER_TURN = 16
"""Sessions ended per turn of the event loop when their connections are lost: each end
tells its watchers (extension presence: a thousand-user directory, up to every other
session) and its interphones' members, ~1 ms; when hundreds of connections are lost at
once (an office's router rebooting) the rest end in the next turns, the other clients
answered between (465 at once stalled every answer ~0.5 s)."""

PLAIN_TEXT_ON_TLS = ("a plain-text (non-TLS) client on this TLS port: it did not start a "
                     "TLS handshake and was closed (the client must connect with TLS)")


def encode(message: Message) -> bytes:
    """The frame bytes of ``message`` (:class:`ValueError` if it cannot fit one frame)."""
    return encode_frame(encode_message(message))


def _failed(transport: asyncio.Transport) -> bool:
    """A transport whose socket failed (e.g. reset) closes itself before ``connection_lost``
    reaches us; writing to it meanwhile only makes asyncio log 'socket.send() raised
    exception.' once per write (thousands when a crowd vanishes at once)."""
    try:
        return transport.is_closing()
    except NotImplementedError:  # a transport that cannot tell
        return False


class SignalingServer:
    """The TCP side of the server: live connections by session id, the state they feed,
    and the one timer that runs the state's deadlines (floor grants, peer timeouts)."""

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop,
                 first_sid: int = 1) -> None:
        self.state = state
        self.settings = state.settings
        self.loop = loop
        self.connections: dict[int, ServerConnection] = {}
        self._ids = itertools.count(first_sid)  # several nodes: unique across them
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.guard: LoginGuard | None = None
        """Checks tokens off the loop; set it before serving (the state is told so)."""
        self._checks: set[asyncio.Task[None]] = set()
        self._handshakes = ConnectionLimits(address_limit_settings(self.settings))
        """TLS handshakes under way, per address and in all (``unauthenticated_total``)."""
        state.syncs_per_turn = state.syncs_left = SYNCS_PER_TURN
        self._turn: asyncio.Handle | None = None
        self.held_back: dict[int, ServerConnection] = {}
        """Connections not read while their requests wait for a later turn."""
        self.ending: dict[int, None] = {}
        """Connections lost whose sessions end in a later turn, in the order they were lost
        (:data:`ENDS_PER_TURN`)."""
        self._ends_left = ENDS_PER_TURN

    def use_login_guard(self, guard: LoginGuard) -> None:
        """Token logins are checked by ``guard`` in its worker threads, never on the loop."""
        self.guard = guard
        self.state.check_tokens_off_loop = True

    def new_connection(self) -> ServerConnection:
        """The protocol factory for ``loop.create_server``."""
        return ServerConnection(self, next(self._ids))

    def plain_text_on_tls(self, peer: str | tuple[object, ...] | None) -> None:
        """A client that does not speak TLS connected to this TLS port (and was closed):
        logged with its address, at most once per address per ``refusal_log_interval``
        (then a count), so that a flood of them cannot fill the log."""
        self.state.refusals.refused(address_key(peer), PLAIN_TEXT_ON_TLS, self.loop.time())
        self.reschedule()  # (the count of the ones held back is logged by the timer)

    def handshake_admitted(self, peer: str | tuple[object, ...] | None) -> bool:
        """A connection to the TLS port was accepted: may it start its handshake? Not
        when its address already has ``max_unauthenticated_per_address`` handshakes under
        way, nor when the server holds ``max_sessions`` connections and handshakes (the
        refusal is logged once per address per interval, as the state's)."""
        address = address_key(peer)
        now = self.loop.time()
        open_now = len(self.state.peers) + self._handshakes.unauthenticated_total
        if open_now >= self.settings.max_sessions:
            self.state.refusals.refused(address, f"{open_now} connections open", now)
        elif not self._handshakes.open(address):
            self.state.refusals.refused(address, "too many TLS handshakes under way", now)
        else:
            return True
        self.reschedule()
        return False

    def handshake_over(self, peer: str | tuple[object, ...] | None) -> None:
        """An admitted connection left the TLS listener (a session now, or closed)."""
        self._handshakes.close(address_key(peer), authenticated=False)

    def tls_handshake_failed(self, peer: str | tuple[object, ...] | None, reason: str) -> None:
        """A TLS handshake on this port failed (e.g. the client refused the certificate):
        logged as :meth:`plain_text_on_tls`, once per address per interval, then a count."""
        self.state.refusals.refused(address_key(peer), reason, self.loop.time())
        self.reschedule()

    def session_ended(self, conn: ServerConnection) -> None:
        """``conn`` was lost: its session ends now, or in a later turn if this one ended
        :data:`ENDS_PER_TURN` already (after those lost before it: each end's notices go
        out in the order the connections were lost, as if each had been lost a little
        later)."""
        self.connections.pop(conn.sid, None)
        self.held_back.pop(conn.sid, None)
        if self.ending or self._ends_left <= 0:
            self.ending[conn.sid] = None
            self.state.lost(conn.sid)
            if self._turn is None:
                self._turn = self.loop.call_soon(self._next_turn)
            return
        self._ends_left -= 1
        self.deliver(self.state.disconnect(conn.sid))

    def _end_sessions(self, bound: int | None) -> None:
        """End the sessions of lost connections waiting for a turn, ``bound`` at most."""
        while self.ending and (bound is None or bound > 0):
            sid = next(iter(self.ending))
            del self.ending[sid]
            if bound is not None:
                bound -= 1
            self.deliver(self.state.disconnect(sid))

    # ---- output --------------------------------------------------------------------------------

    def deliver(self, outbox: Outbox) -> None:
        """Send every message (each distinct one encoded once), then close, then log."""
        encoded: dict[int, bytes] = {}
        connections = self.connections
        for sid, message in outbox.messages:
            conn = connections.get(sid)
            if conn is None:
                continue
            data = encoded.get(id(message))
            if data is None:
                try:
                    data = encoded[id(message)] = encode(message)
                except ValueError:
                    log.exception("cannot encode %s for session %d", type(message.body).__name__,
                                  sid)
                    conn.enqueue(encode(failed_answer(message, ErrCode.SERVER_FAULT,
                                                      "server fault")), None)
                    continue
            body = message.body
            key = str(body.info.id) if isinstance(body, InterphoneChanged) else None
            conn.enqueue(data, key)
            if message.kind is MessageKind.RESPONSE:
                conn.answered += len(data)
        for sid in outbox.closes:
            conn = connections.get(sid)
            if conn is not None:
                conn.close()
        for sid in outbox.aborts:
            conn = connections.get(sid)
            if conn is not None:
                conn.abort()
        for line in outbox.log_lines:
            log.info("%s", line)
        for check in outbox.login_checks:
            task = self.loop.create_task(self._check_login(check))
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)
        if self._turn is None and (self.state.turn_used() or self.ending
                                   or self._ends_left < ENDS_PER_TURN):
            self._turn = self.loop.call_soon(self._next_turn)

    def _next_turn(self) -> None:
        """The next turn of the loop: the requests bounded per turn are answered again,
        those deferred first (:meth:`~app.server.state.ServerState.next_turn`), and the
        sessions of lost connections end, as many as :data:`ENDS_PER_TURN` lets."""
        self._turn = None
        self._ends_left = ENDS_PER_TURN - min(len(self.ending), ENDS_PER_TURN)
        self._end_sessions(ENDS_PER_TURN)
        self.deliver(self.state.next_turn(self.loop.time()))
        self.reschedule()
        for sid, conn in list(self.held_back.items()):
            if not self.state.deferring(sid):
                del self.held_back[sid]
                conn.charge(0, self.loop.time())  # its answers since: then read again
                if conn.budget_pause is None:
                    conn._resume_reading()

    async def _check_login(self, check: LoginCheck) -> None:
        guard = self.guard
        errcode: int | None = ErrCode.SERVER_FAULT
        errmsg = "server fault"
        try:
            if guard is None:
                raise RuntimeError("a login check without a login guard")
            result = await guard.check(self.state.directory.users.get(check.uid), check.uid,
                                       check.token, check.address, self.loop.time())
            errcode = None if result.outcome is LoginOutcome.ACCEPTED else result.errcode
            errmsg = result.errmsg
            guard.failures.handle_timer(self.loop.time())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("fault checking the login of session %d", check.session_id)
        self.deliver(self.state.login_checked(check.session_id, errcode, errmsg,
                                              self.loop.time()))
        self.reschedule()

    # ---- the state's timer ---------------------------------------------------------------------

    def reschedule(self) -> None:
        deadline = self.state.next_deadline()
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if self._timer is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.expire(max(self.loop.time(), self._timer_at))

    def expire(self, now: float) -> None:
        """Carry out what is due at ``now`` (the timer, or the relay noticing first)."""
        self.deliver(self.state.handle_timer(now))
        self.reschedule()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._turn is not None:
            self._turn.cancel()
            self._turn = None
        for task in list(self._checks):
            task.cancel()
        self._end_sessions(None)
        self.deliver(self.state.shut_down())
        for conn in list(self.connections.values()):
            conn.close()


Signaling = SignalingServer
"""The former name, kept for the relay tests and the benchmarks until they import the new one."""


class ServerConnection(asyncio.Protocol):
    """One TCP peer: feeds its bytes to the state and writes what comes back, through a
    bounded output queue that coalesces notifications of one interphone."""

    def __init__(self, server: SignalingServer, sid: int) -> None:
        self.server = server
        self.state = server.state
        self.sid = sid
        self.settings = server.settings
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.peer_ip = ""
        self.closing = False
        self.pending: OrderedDict[object, bytes] = OrderedDict()
        self.pending_bytes = 0
        self.paused = False
        self._keys: Callable[[], int] = itertools.count().__next__
        self.answered = 0
        """Bytes of answers to this peer not yet charged to its byte budget."""
        self.budget_pause: asyncio.TimerHandle | None = None
        """Reading paused by the byte budget until this timer runs."""

    # ---- asyncio callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if peer else ""
        if not self.state.connect(self.sid, self.peer_ip, self.loop.time()):
            self.closing = True  # the state logged it (once per address per interval)
            transport.abort()
            return
        self.server.connections[self.sid] = self
        transport.set_write_buffer_limits(high=self.settings.write_high_water)
        self.server.reschedule()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        now = self.loop.time()
        self.server.deliver(self.state.receive_data(self.sid, data, now))
        self.server.reschedule()
        self.charge(len(data), now)
        transport = self.transport
        if transport is not None and not self.closing and self.state.deferring(self.sid):
            # its requests wait for a later turn: the next ones wait in its socket
            transport.pause_reading()
            self.server.held_back[self.sid] = self

    def charge(self, read: int, now: float) -> None:
        """``read`` bytes were read: they and the answers since cost the byte budget."""
        # an answer costs the budget as the bytes read do: a presence sync of 80 bytes is
        # answered with up to 64 KB (a 1,500-user directory), and one session asking it
        # 40 times a second took 67 % of a core and 30 ms of everyone's answers
        answered, self.answered = self.answered, 0
        wait = self.state.read_pause(self.sid, read + answered, now)
        transport = self.transport
        if wait > 0 and transport is not None and not self.closing:
            transport.pause_reading()  # (the peer's bytes wait in its socket meanwhile)
            if self.budget_pause is not None:  # this one ends later: the budget is spent
                self.budget_pause.cancel()  # (answers deferred to later turns are charged
                # after the read of their requests: while its pause runs)
            self.budget_pause = self.loop.call_later(wait, self._budget_over)

    def _budget_over(self) -> None:
        """The byte budget's pause is over: read again, unless its requests wait for a
        later turn (then once they are answered)."""
        self.budget_pause = None
        if self.sid not in self.server.held_back:
            self._resume_reading()

    def _resume_reading(self) -> None:
        transport = self.transport
        if transport is not None and not self.closing and not _failed(transport):
            transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self.server.connections.get(self.sid) is self:
            self.server.session_ended(self)

    def pause_writing(self) -> None:
        self.paused = True
        self.state.writing_paused(self.sid, self.loop.time())
        self.server.reschedule()

    def resume_writing(self) -> None:
        self.paused = False
        self.state.writing_resumed(self.sid)
        self._flush()

    # ---- output --------------------------------------------------------------------------------

    def enqueue(self, data: bytes, key: str | None) -> None:
        """Write now, or queue behind a full buffer (a newer notification of the same
        interphone replaces the queued one and moves to the back)."""
        transport = self.transport
        if self.closing or transport is None or _failed(transport):
            return
        if not self.paused and not self.pending:
            transport.write(data)
            return
        slot: object = ("n", key) if key is not None else self._keys()
        old = self.pending.pop(slot, None)
        if old is not None:
            self.pending_bytes -= len(old)
        self.pending[slot] = data
        self.pending_bytes += len(data)
        if self.pending_bytes + transport.get_write_buffer_size() > self.settings.write_hard_limit:
            log.info("closing session %d: output over %d bytes", self.sid,
                     self.settings.write_hard_limit)
            self.abort()

    def _flush(self) -> None:
        transport = self.transport
        while self.pending and not self.paused and transport is not None and not self.closing:
            _, data = self.pending.popitem(last=False)
            self.pending_bytes -= len(data)
            transport.write(data)

    # ---- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush what is queued, then close; abort if the peer does not take it in time."""
        if self.closing or self.transport is None:
            return
        self.paused = False
        self._flush_all()
        self.closing = True
        self.transport.close()
        self.loop.call_later(_CLOSE_GRACE, self.transport.abort)

    def _flush_all(self) -> None:
        transport = self.transport
        while self.pending and transport is not None:
            _, data = self.pending.popitem(last=False)
            transport.write(data)
        self.pending_bytes = 0

    def abort(self) -> None:
        if self.transport is None:
            return
        self.closing = True
        self.pending.clear()
        self.transport.abort()
