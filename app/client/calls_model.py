"""The client's knowledge of calls and contacts' presence (part of
:class:`~app.client.model.ClientModel`).

With extension ``presence`` (docs/protocol-extensions.md) contacts' status and the
state of calls come as ``<presence>`` and ``<call>`` bodies; without it, a chat
with us whose member count grows rings (:meth:`CallsModel.ring_from_members`).
Pure, like the model: it emits its events through the model's batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Mapping
from types import MappingProxyType

from app.client.events import (
    CallState,
    ContactPresenceChanged,
    IncomingCall,
    IncomingCallEnded,
    ModelEvent,
    OutgoingCallChanged,
)
from app.protocol import InterphoneId, InterphoneInfo
from app.protocol.ids import other_party
from app.protocol.messages import Body
from app.protocol.presence import (
    CallAction,
    CallNotice,
    CallNoticeType,
    CallResult,
    PresenceChanged,
    PresenceSyncResult,
)

MAX_CALLS = 256
"""Chats ringing us, and chats of our calls, that the model keeps at most: a hostile or
broken server could otherwise grow them without end (one ``<call>`` notice each, and
each ringing one an :class:`IncomingCall` for the desktop to announce)."""

logger = logging.getLogger(__name__)

_CALL_STATE_OF_NOTICE = {
    CallNoticeType.ANSWERED: CallState.ANSWERED,
    CallNoticeType.DECLINED: CallState.DECLINED,
    CallNoticeType.NO_ANSWER: CallState.NO_ANSWER,
    CallNoticeType.OFFLINE: CallState.OFFLINE,
}


class CallsModel:
    """Contacts online, our outgoing calls and the chats ringing us."""

    def __init__(self, uid: str, emit: Callable[[ModelEvent], None]) -> None:
        self._uid = uid
        self._emit = emit
        self.presence_granted = False  # extension presence: rings come as <call> notices
        self._online: dict[str, bool] = {}
        self._outgoing: dict[InterphoneId, CallState] = {}
        self._incoming: dict[InterphoneId, str] = {}  # chat ringing us -> caller
        self._cap_logged = False

    # ---- reading -----------------------------------------------------------------------

    @property
    def presence(self) -> Mapping[str, bool]:
        return MappingProxyType(self._online)

    def is_online(self, uid: str) -> bool | None:
        return self._online.get(uid)

    def outgoing_call(self, chat: InterphoneId) -> CallState | None:
        return self._outgoing.get(chat)

    @property
    def incoming(self) -> Mapping[InterphoneId, str]:
        return MappingProxyType(self._incoming)

    # ---- changes -----------------------------------------------------------------------

    def apply(self, body: Body, joined: Container[InterphoneId],
              contacts: Container[str]) -> None:
        """Extension ``presence``: contacts' status and the state of calls (``joined``:
        the interphones we are in, which do not ring; ``contacts``: the roster's, the
        only uids whose status is learnt)."""
        match body:
            case PresenceSyncResult(listed):
                known = {c.uid: c.online for c in listed if c.uid in contacts}
                for uid in [u for u in self._online if u not in known]:
                    del self._online[uid]
                for uid, online in known.items():
                    self._set_online(uid, online)
            case PresenceChanged(uid, online) if uid in contacts or uid in self._online:
                self._set_online(uid, online)  # (a contact a reload removed goes offline)
            case CallResult(CallAction.RING, chat, state) if state is not None:
                self.set_outgoing(chat, CallState(state.value))
            case CallResult(CallAction.CANCEL, chat):
                self.set_outgoing(chat, CallState.CANCELLED)
            case CallResult(CallAction.DECLINE, chat):
                self.end_incoming(chat, "declined")
            case CallNotice(CallNoticeType.RINGING, chat, caller) if chat.involves(self._uid):
                if chat not in self._incoming and chat not in joined \
                        and self._room(self._incoming, "chats ringing us"):
                    self._incoming[chat] = caller or other_party(chat, self._uid)
                    self._emit(IncomingCall(chat, self._incoming[chat]))
            case CallNotice(CallNoticeType.ENDED, chat, _, _, reason):
                self.end_incoming(chat, reason or "cancelled")
            case CallNotice(kind, chat) if kind in _CALL_STATE_OF_NOTICE:
                self.set_outgoing(chat, _CALL_STATE_OF_NOTICE[kind])

    def _set_online(self, uid: str, online: bool) -> None:
        if self._online.get(uid) != online:
            self._online[uid] = online
            self._emit(ContactPresenceChanged(uid, online))

    def set_outgoing(self, chat: InterphoneId, state: CallState) -> None:
        if not chat.involves(self._uid) or self._outgoing.get(chat) == state:
            return
        if chat not in self._outgoing:
            ended = [c for c, s in self._outgoing.items() if s is not CallState.RINGING]
            if len(self._outgoing) >= MAX_CALLS and ended:
                del self._outgoing[ended[0]]  # the oldest call that no longer rings
            if not self._room(self._outgoing, "calls of ours ringing"):
                return
        self._outgoing[chat] = state
        self._emit(OutgoingCallChanged(chat, other_party(chat, self._uid), state))

    def _room(self, calls: Mapping[InterphoneId, object], what: str) -> bool:
        """Is there room for one more entry in ``calls``? Beyond :data:`MAX_CALLS` the
        notice is ignored, and that is logged once."""
        if len(calls) < MAX_CALLS:
            return True
        if not self._cap_logged:
            self._cap_logged = True
            logger.warning("%d %s already: ignoring call notices about more", MAX_CALLS, what)
        return False

    def end_all(self, reconnecting: bool = False) -> None:
        """The session ended: the server ended every ring of it. When the client is
        ``reconnecting``, our calls stay ringing (it joins their chats again, which rings
        the callee again, and asks how that ring stands) and the calls that rang us are
        ``interrupted`` (their callers may ring us again once we are back)."""
        for chat in list(self._incoming):
            self.end_incoming(chat, "interrupted" if reconnecting else "cancelled")
        if reconnecting:
            return
        for chat, state in list(self._outgoing.items()):
            if state is CallState.RINGING:
                self.set_outgoing(chat, CallState.CANCELLED)

    def end_incoming(self, chat: InterphoneId, reason: str) -> None:
        caller = self._incoming.pop(chat, None)
        if caller is not None:
            self._emit(IncomingCallEnded(chat, caller, reason))

    def left(self, chat: InterphoneId) -> None:
        """We left ``chat``: our call ringing there is cancelled."""
        if self._outgoing.get(chat) is CallState.RINGING:
            self.set_outgoing(chat, CallState.CANCELLED)

    def ring_from_members(self, info: InterphoneInfo, previous: InterphoneInfo | None,
                          ours: bool) -> None:
        """Without extension presence: a chat with us that someone else joined rings
        (``ours``: we are in it or joining it)."""
        chat = info.id
        if not chat.involves(self._uid):  # (a chat of ours)
            return
        if ours or self.presence_granted:
            return  # with presence, <call type='ringing'> rings instead
        if info.members is not None and self._uid in info.members:
            return
        before = previous.member_count if previous is not None else 0
        if info.member_count > before:
            self._emit(IncomingCall(chat, other_party(chat, self._uid)))
