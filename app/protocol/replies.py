"""The failed answers a server gives: to a request it refuses, and to a frame it cannot read."""

from __future__ import annotations

from dataclasses import replace

from app.protocol.errors import ProtocolError
from app.protocol.messages import (
    Body,
    EmergencyRequest,
    ErrorReply,
    JoinRequest,
    JoinResult,
    Login,
    LoginResult,
    MembersRequest,
    MembersResult,
    Message,
    MessageKind,
    Module,
    Ping,
    QualityReport,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
    SyncResult,
)
from app.protocol.presence import CallRequest, PresenceSyncRequest, PresenceSyncResult


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


def failed_answer(answer: Message, errcode: int, errmsg: str) -> Message:
    """A response that cannot be sent (e.g. it would not fit one frame), failed in its
    own envelope and element, so that its requester hears of it at once instead of
    waiting for its timeout; the bare ``<error>`` (no ``seq``) for anything else."""
    body: ErrorReply | None = None
    match answer.body:
        case LoginResult():
            body = ErrorReply("login", errcode, errmsg)
        case SyncResult():
            body = ErrorReply("interphones", errcode, errmsg, "sync")
        case MembersResult(info):
            body = ErrorReply("interphone", errcode, errmsg, "sync", str(info.id))
        case JoinResult(info):
            body = ErrorReply("interphone", errcode, errmsg, "add", str(info.id))
        case PresenceSyncResult():
            body = ErrorReply("presence", errcode, errmsg, "sync")
    if body is None or answer.kind is not MessageKind.RESPONSE or not answer.seq:
        return Message.frame_error(errmsg, errcode)
    return Message.response(answer.seq, body, answer.module)


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
