"""The presenter's calls (extension presence): the outgoing call's status line, leaving a
call that failed or that the other party hung up (back to the talk target before it),
the repeating ring of an incoming call, and declining one.

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`; its texts keep the ``Presenter``
translation context.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QCoreApplication, QTimer

from app.client import (
    CallState,
    ClientError,
    ConnectionState,
    IncomingCallEnded,
    OutgoingCallChanged,
)
from app.client.call_resume import RESUME_S
from app.protocol import InterphoneId, other_party
from app.ui.audio_link import Tone
from app.ui.presenter_core import PresenterCore

logger = logging.getLogger(__name__)

translate = QCoreApplication.translate

# after the other party left a call, how long presence may take to say they went offline
# (their session ended: they may come back and rejoin) rather than hung up
HANG_UP_GRACE_S = 1.0

# a call that rang us when our connection dropped is missed only if its caller did not
# ring us again within this long (app.client.call_resume: once we are back)
MISSED_AFTER_DROP_S = RESUME_S + 5.0


class PresenterCalls(PresenterCore):
    """Outgoing and incoming calls, as the window shows them."""

    _ringing: QTimer  # repeats the ring while model.incoming_calls is not empty
    # our calls, made or answered -> the talk target before the call (back to it after)
    _call_return: dict[InterphoneId, InterphoneId | None]
    _peer_in: set[InterphoneId]  # joined chats the other party is in
    # our outgoing calls' last status-bar line ("Calling Bob…", "Bob answered"): taken
    # back once we are no longer in the chat (it stayed up to 8 s after we left the call)
    _call_notices: dict[InterphoneId, str]
    _link_drops: int  # connections lost so far (a hang-up is judged within one)
    _interrupted_calls: set[InterphoneId]  # rang us when our link dropped, not rung again

    def _ring_again(self) -> None:
        if self.model.incoming_calls:
            self._tone(Tone.INCOMING_CALL)
        else:
            self._ringing.stop()

    def _on_outgoing_call(self, event: OutgoingCallChanged) -> None:
        who = self.window.display_name(event.to_uid)
        text = {CallState.RINGING: translate("Presenter", "Calling %1…"),
                CallState.ANSWERED: translate("Presenter", "%1 answered"),
                CallState.DECLINED: translate("Presenter", "%1 declined the call"),
                CallState.NO_ANSWER: translate("Presenter", "No answer from %1"),
                CallState.OFFLINE: translate("Presenter", "%1 is offline"),
                CallState.CANCELLED: translate("Presenter", "Call to %1 cancelled")}[event.state]
        text = text.replace("%1", who)
        if event.state in (CallState.DECLINED, CallState.NO_ANSWER, CallState.OFFLINE):
            # nobody will come: leave the empty chat rather than sit in it alone
            self.tasks.spawn(self._end_failed_call(event.id, text), "call failed")
        elif event.state is CallState.CANCELLED:
            self._call_return.pop(event.id, None)
        self.window.show_message(text, 30000 if event.state is CallState.RINGING else 8000)
        if event.state in (CallState.RINGING, CallState.ANSWERED):
            self._call_notices[event.id] = text
        else:
            self._call_notices.pop(event.id, None)

    def _withdraw_call_notices(self) -> None:
        """The status bar no longer says a call rings or was answered once we left it."""
        for chat in [chat for chat in self._call_notices if not self.model.is_joined(chat)]:
            self.window.withdraw_message(self._call_notices.pop(chat))

    def _follow_calls(self, chat: InterphoneId) -> None:
        """``chat`` changed: if it is a joined one-to-one chat of ours the other party was
        in and left, see :meth:`_hung_up`. (Only the chat's own news counts: the model
        keeps what it knew while offline, and a reconnect clears what was seen.)"""
        if (self.model.connection is not ConnectionState.CONNECTED
                or not chat.involves(self.model.uid)):
            return
        info = self.model.interphone(chat)
        if not self.model.is_joined(chat):
            self._peer_in.discard(chat)
        elif info is not None and info.member_count > 1:
            self._peer_in.add(chat)
        elif chat in self._peer_in:
            self._peer_in.discard(chat)
            self.tasks.spawn(self._hung_up(chat), "call ended")

    async def _hung_up(self, chat: InterphoneId) -> None:
        """The other party left our call: unless they went offline (they may come back to
        it: we stay, saying they are offline) or are back already, leave the chat, as a
        failed call does, and talk into the interphone we talked into before the call
        again (nobody would hear us there)."""
        drops = self._link_drops
        await asyncio.sleep(HANG_UP_GRACE_S)
        peer = other_party(chat, self.model.uid)
        info = self.model.interphone(chat)
        if self._link_drops != drops or (info is not None and info.member_count > 1):
            return  # (the link went meanwhile: what presence says now is no answer)
        if self.model.is_online(peer) is False:  # the call stays, but say nobody hears it
            self.window.show_message(translate("Presenter", "%1 is offline").replace(
                "%1", self.window.display_name(peer)), 8000)
            return
        await self._end_failed_call(chat, translate("Presenter", "%1 left the call").replace(
            "%1", self.window.display_name(peer)))

    async def _end_failed_call(self, chat: InterphoneId, outcome: str) -> None:
        """Our call in ``chat`` failed: unless the other party is there after all, leave
        the chat and talk into the interphone we talked into before the call again."""
        previous = self._call_return.pop(chat, None)
        info = self.model.interphone(chat)
        if not self.model.is_joined(chat) or (info is not None and info.member_count > 1):
            self.window.show_message(outcome, 8000)
            return
        was_target = self.model.talk_target == chat
        if was_target:
            self._reset_turn()
        try:
            await self.client.leave(chat)
            if (was_target and previous is not None and previous != chat
                    and self.model.is_joined(previous) and self.model.talk_target != previous):
                await self.client.set_talk_target(previous)
        except ClientError as exc:  # (offline meanwhile: the chat is left with the session)
            logger.info("leaving the failed call in %s: %r", chat, exc)
        target = self.model.talk_target
        if self.model.is_joined(chat):
            text = outcome
        elif target is not None:
            text = translate(
                "Presenter", "%1 · you left the empty chat and talk into %2 again").replace(
                "%1", outcome).replace("%2", self._names.get(str(target), str(target)))
        else:
            text = translate("Presenter", "%1 · you left the empty chat").replace("%1", outcome)
        self.window.show_message(text, 8000)

    def _on_incoming_call_ended(self, event: IncomingCallEnded) -> None:
        """A call stopped ringing us. One cut by our connection's drop is not missed yet:
        its caller rings us again once we are back; only if not is it said missed."""
        if not self.model.incoming_calls:
            self._ringing.stop()
        self.window.clear_incoming_call(str(event.id))
        if event.reason == "interrupted":
            self._interrupted_calls.add(event.id)
            self.tasks.spawn(self._missed_unless_rung_again(event), "call interrupted")
        elif event.reason in ("cancelled", "no_answer"):
            self._tell_missed(event)

    async def _missed_unless_rung_again(self, event: IncomingCallEnded) -> None:
        await asyncio.sleep(MISSED_AFTER_DROP_S)
        if event.id in self._interrupted_calls:
            self._interrupted_calls.discard(event.id)
            if not self.model.is_joined(event.id):
                self._tell_missed(event)

    def _tell_missed(self, event: IncomingCallEnded) -> None:
        self.window.notify_missed_call(str(event.id), translate(
            "Presenter", "Missed call from %1").replace(
            "%1", self.window.display_name(event.from_uid)))

    def decline(self, interphone_id: str) -> None:
        """The incoming-call banner was dismissed: tell the caller (extension presence)."""
        if interphone_id and self._online():
            self.tasks.spawn(self.client.decline(interphone_id), "decline")

