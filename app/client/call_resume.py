"""Our call ringing when the callee's server went away: ring again once they are back.

Extension ``presence`` (docs/protocol-extensions.md, "Calls: how a ring ends"): a ring
ends, told to the caller as ``offline``, when the callee's session ends, also when a
new login of theirs replaces it. With several nodes that is what a restart of the
callee's node does to a call ringing them: their client is back on another node
within a second, but the call was gone (the caller left the empty chat, the callee
was told of a missed call). So, while we stay in the chat, such an ``offline`` is
held back for :data:`RESUME_S` seconds, and the call rings again as soon as the
callee is online; only if they are not back by then is it told (``offline``).
A ring answered ``offline`` at the call itself (nobody was there) is told at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from app.client.errors import ClientError
from app.client.events import CallState
from app.client.model import ClientModel
from app.protocol import InterphoneId
from app.protocol.ids import other_party
from app.protocol.messages import Body
from app.protocol.presence import (
    CallAction,
    CallNotice,
    CallNoticeType,
    CallRequest,
    CallResult,
    RingState,
)

logger = logging.getLogger(__name__)

RESUME_S = 5.0
"""How long a callee whose session ended may take to be back before the call is told
``offline``: a node that stops or dies moves its clients to another within a second
(their connections close at once); a callee who quit keeps "Calling…" up that long."""

LOOK_EVERY_S = 0.25


class CallResume:
    """The calls of ours whose ring ended with the callee's session, until rung again."""

    def __init__(self, model: ClientModel,
                 ring: Callable[[CallRequest], Awaitable[object]],
                 spawn: Callable[[Coroutine[Any, Any, None], str], object]) -> None:
        self._model = model
        self._ring = ring
        self._spawn = spawn
        self._resuming: set[InterphoneId] = set()

    def holds_back(self, body: Body) -> bool:
        """Whether ``body`` is an ``offline`` end of a call of ours that may come back:
        then it is not applied now (the model still says the call rings)."""
        match body:
            case CallNotice(CallNoticeType.OFFLINE, chat) \
                    if self._model.outgoing_call(chat) is CallState.RINGING \
                    and self._model.is_joined(chat):
                if chat not in self._resuming:
                    self._resuming.add(chat)
                    logger.info("the callee of %s went offline while it rang: ringing again"
                                " when they are back", chat)
                    self._spawn(self._resume(chat), "call-resume")
                return True
            case CallResult(CallAction.RING, chat, RingState.OFFLINE) \
                    if chat in self._resuming:
                return True  # (our ring again, sent before they were back: try later)
        return False

    async def _resume(self, chat: InterphoneId) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESUME_S
        peer = other_party(chat, self._model.uid)
        try:
            while loop.time() < deadline:
                if (self._model.outgoing_call(chat) is not CallState.RINGING
                        or not self._model.is_joined(chat)):
                    return  # cancelled, left, or our own connection went: nothing to tell
                if self._model.is_online(peer) is not False:  # (or unknown: no contact)
                    try:
                        result = await self._ring(CallRequest(CallAction.RING, chat))
                    except ClientError as exc:
                        logger.info("ringing %s again failed: %s", chat, exc)
                    else:
                        logger.debug("ringing %s again: %s", chat, result)
                        if not (isinstance(result, CallResult)
                                and result.state is RingState.OFFLINE):
                            return  # ringing (or answered) again: the model was told
                await asyncio.sleep(LOOK_EVERY_S)
        finally:
            self._resuming.discard(chat)
        if (self._model.outgoing_call(chat) is CallState.RINGING
                and self._model.is_joined(chat)):
            logger.info("the callee of %s is not back: the call ends (offline)", chat)
            self._model.apply_body(CallNotice(CallNoticeType.OFFLINE, chat))
