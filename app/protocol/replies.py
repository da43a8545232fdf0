"""The failed answers a server gives: to a request it refuses, and to a frame it cannot read."""

from __future__ import annotations

from dataclasses import replace

from app.protocol.errors import ProtocolError
from app.protocol.messages import (
    Body,
    EmergencyRequest,
    ErrorReply,
    JoinRequest,
    Login,
    MembersRequest,
    Message,
    Module,
    Ping,
    QualityReport,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.presence import CallRequest, PresenceSyncRequest


def echo_error(body: Body, errcode: int, errmsg: str) -> ErrorReply:
    """The failed answer to ``body``: its element, ``type`` and ``id`` echoed."""
    match body:
        case Login():
            return ErrorReply("login", errcode, errmsg)
        case Ping():
            return ErrorReply("ping", errcode, errmsg)
        case SyncRequest():
            return ErrorReply("interphones", errcode, errmsg, "sync")
        case MembersRequest(interphone):
            return ErrorReply("interphone", errcode, errmsg, "sync", str(interphone))
        case JoinRequest(interphone):
            return ErrorReply("interphone", errcode, errmsg, "add", str(interphone))
        case QuitRequest(interphone):
            return ErrorReply("interphone", errcode, errmsg, "quit", str(interphone))
        case SpeakRequest(on, interphone):
            return ErrorReply("speak", errcode, errmsg, "on" if on else "off", str(interphone))
        case PresenceSyncRequest():
            return ErrorReply("presence", errcode, errmsg, "sync")
        case CallRequest(action, interphone):
            return ErrorReply("call", errcode, errmsg, action.value, str(interphone))
        case EmergencyRequest(action, interphone):
            return ErrorReply("emergency", errcode, errmsg, action.value, str(interphone))
        case QualityReport(interphone):
            return ErrorReply("quality", errcode, errmsg, None, str(interphone))
    return ErrorReply("error", errcode, errmsg)


def refusal(request: Message, errcode: int, errmsg: str, *, holder: str = "",
            reason: str = "") -> Message:
    """The response refusing ``request`` in its own envelope (``seq`` and ``module``);
    ``holder`` and ``reason`` are the extra attributes of a 409."""
    body = echo_error(request.body, errcode, errmsg)
    if holder or reason:
        body = replace(body, holder=holder, reason=reason)
    return Message.response(request.seq, body, request.module)


def protocol_error_reply(exc: ProtocolError) -> Message:
    """The answer to a frame that failed to decode: in the request's envelope when its
    ``seq`` was readable, else the bare ``<error>`` of PROTOCOL.md section 4."""
    if exc.seq:
        body = ErrorReply(exc.tag or "error", int(exc.errcode), exc.errmsg, exc.type, exc.id)
        return Message.response(exc.seq, body, exc.module or Module.SESSION.value)
    return Message.frame_error(exc.errmsg, exc.errcode)
