"""The server state's admission rules: token checks off the event loop, per-address limits.

A mixin of :class:`~app.server.state.ServerState`. With a
:class:`~app.server.login_guard.LoginGuard` in the I/O layer
(``check_tokens_off_loop``), a token login is not answered at once: the state
emits a :class:`~app.server.outbox.LoginCheck`, holds the connection's later
frames, and finishes in :meth:`AdmissionRules.login_checked`. Connections and
sessions are counted per source address (:class:`~app.server.addr_limits.ConnectionLimits`),
refusals logged once per interval (:class:`~app.server.addr_limits.RefusalLog`).
"""

from __future__ import annotations

from app.protocol.errors import ErrCode
from app.protocol.messages import Login, Message
from app.protocol.replies import refusal
from app.server.addr_limits import address_key
from app.server.media_gate import (
    ERRCODE_MEDIA_AUTH_REQUIRED,
    ERRMSG_MEDIA_AUTH_REQUIRED,
)
from app.server.outbox import LoginCheck, Outbox, Refused, RefusedAndClosed
from app.server.peers import Peer
from app.server.ratelimit import ByteBudget
from app.server.state_base import StateBase


class AdmissionRules(StateBase):
    """Login checks off the loop and per-address counts (see the module's docstring)."""

    def login_checked(self, sid: int, errcode: int | None, errmsg: str, now: float) -> Outbox:
        """The off-loop token check of ``sid``'s login is done (``errcode`` None: accepted):
        answer the login, then the frames that waited for it."""
        outbox = Outbox()
        peer = self.peers.get(sid)
        if peer is None or peer.checking is None:
            return outbox
        request, peer.checking = peer.checking, None
        held, peer.held = peer.held, []
        if peer.closing:
            return outbox
        if errcode is not None:
            outbox.send(sid, refusal(request, errcode, errmsg))
            peer.login_clock = now  # the client's time to log in starts again
            self._arm_peer(peer, peer.deadline(self.settings, logged_in=False))
        else:
            peer.token_verified = True
            self._answer(peer, request, now, outbox, verified=True)
        self._receive_frames(peer, held, now, outbox)
        return outbox

    def _check_login_first(self, peer: Peer, request: Message, body: Login,
                           outbox: Outbox, now: float = 0.0) -> None:
        """Refusals that need no token check go out at once; then the token is checked off
        the loop and the peer's next frames wait (see :meth:`login_checked`)."""
        if self.media_encryption.refuses(body.features):
            # logged (per address, at most once a refusal_log_interval): a client that
            # cannot encrypt voice is otherwise refused without a word in the log
            self.refusals.refused(
                address_key(peer.ip), f"login of uid {body.uid!r} without encrypted voice "
                "(media-auth), which media_encryption = \"required\" demands (errcode 426); "
                "for clients that cannot, set media_encryption = \"optional\"", now)
            raise Refused(ERRCODE_MEDIA_AUTH_REQUIRED, ERRMSG_MEDIA_AUTH_REQUIRED)
        peer.checking = request
        outbox.login_checks.append(LoginCheck(peer.sid, body.uid, body.token,
                                              address_key(peer.ip)))

    def _count_session(self, sid: int, peer_ip: str, now: float) -> None:
        """The per-address session limit (a connection fed by hand has no peer: not counted)."""
        peer = self.peers.get(sid)
        if peer is None or peer.counted != "unauthenticated":
            return
        address = address_key(peer_ip)
        if not self.address_limits.authenticate(address):
            self.refusals.refused(address, "too many sessions", now)
            raise RefusedAndClosed(ErrCode.TOO_MANY_REQUESTS, "too many sessions from this address")
        peer.counted = "session"
        peer.reads = ByteBudget(self.settings.read_rate, self.settings.read_burst, now)

    def _uncount(self, peer: Peer) -> None:
        if peer.counted:
            self.address_limits.close(address_key(peer.ip), peer.counted == "session")
            peer.counted = ""
