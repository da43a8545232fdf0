"""The XML mapping of :mod:`app.protocol.messages` (the only module that imports lxml).

One hardened parser: no DTD, no entity resolution, no network, bounded input.
Every failure is a :class:`ProtocolError` carrying the errcode to answer with
and, once the envelope was readable, the request's ``seq`` and ``module`` so the
answer can go in the request's own envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from lxml import etree

from app.protocol.errors import ErrCode, ProtocolError
from app.protocol.features import format_features, parse_features
from app.protocol.ids import InterphoneId, is_valid_name
from app.protocol.limits import MAX_FRAME, MAX_MEMBERS, MAX_SEQ_LEN, MAX_SYNC_IDS, MAX_TEXT_ATTR
from app.protocol.messages import (
    Body,
    EmergencyAction,
    EmergencyRequest,
    EmergencyState,
    ErrorReply,
    FeedbackNotice,
    FloorNotice,
    FloorNoticeType,
    InterphoneChanged,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Kicked,
    Login,
    LoginResult,
    MediaKeyNotice,
    MembersRequest,
    MembersResult,
    Message,
    MessageKind,
    Module,
    Ping,
    QualityAck,
    QualityReport,
    QuitRequest,
    QuitResult,
    RosterEntry,
    SpeakRequest,
    SpeakResult,
    SyncRequest,
    SyncResult,
    module_of,
)
from app.protocol.presence import (
    CallAction,
    CallNotice,
    CallNoticeType,
    CallRequest,
    CallResult,
    ContactPresence,
    PresenceChanged,
    PresenceSyncRequest,
    PresenceSyncResult,
    RingState,
)
from app.protocol.xmlchars import xml_safe

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    # The contract says UTF-8 everywhere: a declared encoding is ignored, so a
    # UTF-16 or UTF-7 document cannot smuggle a DOCTYPE past the byte check below.
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)
_ROSTER_KINDS = ("group", "discuss", "contact")
_MODULES = frozenset(module.value for module in Module)


# ---- decoding ----------------------------------------------------------------------------


def decode_message(data: bytes) -> Message:
    """Parse one frame's payload into a :class:`Message` or raise :class:`ProtocolError`.

    Three steps: :func:`_parse_document` (bytes to a safe element tree),
    :func:`_read_envelope` (the ``<message>`` attributes and its one child),
    :func:`_decode_body` (the child, by module, kind and tag).
    """
    envelope = _read_envelope(_parse_document(bytes(data)))
    return Message(envelope.kind, _decode_body(envelope), envelope.seq or None, envelope.module)


def _parse_document(data: bytes) -> etree._Element:
    """The ``<message>`` root of ``data``, parsed with every dangerous feature off."""
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"document of {len(data)} bytes exceeds {MAX_FRAME}", ErrCode.TOO_LARGE)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"document is not UTF-8 (byte {exc.start})") from None
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ProtocolError("DTDs and entity declarations are not allowed")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ProtocolError(f"malformed XML: {_first_line(exc)}") from None
    if root.tag != "message":
        raise ProtocolError(f"root element is <{_tag(root)}>, not <message>")
    return root


@dataclass(frozen=True, slots=True)
class _Known:
    """What is known of a request's envelope, so that an error can be answered in it."""

    seq: str | None
    module: str | None
    tag: str | None
    type: str | None
    id: str | None

    def error(self, errmsg: str, errcode: ErrCode = ErrCode.BAD_REQUEST) -> ProtocolError:
        return ProtocolError(errmsg, errcode, seq=self.seq, module=self.module, tag=self.tag,
                             type=self.type, id=self.id)


@dataclass(frozen=True, slots=True)
class _Envelope:
    """A checked ``<message>``: its kind, seq, module and the one child element.

    ``context`` is what is known of the request for answering an error in its
    own envelope (see :class:`ProtocolError`)."""

    kind: MessageKind
    seq: str | None
    module: str
    child: etree._Element
    context: _Known


def _read_envelope(root: etree._Element) -> _Envelope:
    seq = root.get("seq")
    seq = seq.strip() if seq is not None else None
    module = _peek(root, "module")
    children = [child for child in root if isinstance(child.tag, str)]
    child = children[0] if len(children) == 1 else None
    # What is known of the envelope, so that any error below can be answered in it.
    # Over-long values are left out here and reported by the checks that follow.
    context = _Known(
        seq=seq if seq and len(seq) <= MAX_SEQ_LEN else None,
        module=module,
        tag=_tag(child) if child is not None else None,
        type=_peek(child, "type") if child is not None else None,
        id=_peek(child, "id") if child is not None else None,
    )
    try:
        kind_text = _attr(root, "type")
        if module is None:
            _attr(root, "module")  # raises for an over-long value
    except ProtocolError as exc:
        raise context.error(exc.errmsg, exc.errcode) from None
    try:
        kind = MessageKind(kind_text or "")
    except ValueError:
        raise context.error(f"bad message type {kind_text!r}") from None
    if kind is not MessageKind.NOTIFICATION and not seq and not _is_frame_error(kind, child):
        raise context.error("missing seq")
    if seq is not None and len(seq) > MAX_SEQ_LEN:
        raise context.error(f"seq longer than {MAX_SEQ_LEN} characters")
    if child is None:
        raise context.error(f"<message> needs exactly one child element, has {len(children)}")
    if module is None or module not in _MODULES:
        raise context.error(f"unknown module {module!r}")
    if _has_text(root):
        raise context.error("text content in <message>")
    return _Envelope(kind, seq, module, child, context)


def _decode_body(envelope: _Envelope) -> Body:
    child, kind = envelope.child, envelope.kind
    try:
        if kind is MessageKind.RESPONSE and (child.get("errcode") or "").strip():
            return _decode_error(child)
        decoder = _DECODERS.get((envelope.module, kind, _tag(child)))
        if decoder is None:
            raise ProtocolError(
                f"unknown {kind.value} <{_tag(child)}> in module {envelope.module!r}")
        return decoder(child)
    except ProtocolError as exc:
        raise envelope.context.error(exc.errmsg, exc.errcode) from None


def _is_frame_error(kind: MessageKind, child: etree._Element | None) -> bool:
    return kind is MessageKind.RESPONSE and child is not None and child.tag == "error"


def _has_text(root: etree._Element) -> bool:
    """True if any element holds non-whitespace text: the contract has none anywhere."""
    for element in root.iter():
        if (element.text or "").strip():
            return True
        if element is not root and (element.tail or "").strip():
            return True
    return False


def _peek(element: etree._Element, name: str) -> str | None:
    """``_attr`` without the length check: None for a missing or over-long value."""
    value = element.get(name)
    if value is None or len(value) > MAX_TEXT_ATTR:
        return None
    return value.strip()


def _is_decimal(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts '²' and '٣')."""
    return text.isascii() and text.isdigit()


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _tag(element: etree._Element) -> str:
    return element.tag if isinstance(element.tag, str) else "?"


def _attr(element: etree._Element, name: str) -> str | None:
    value = element.get(name)
    if value is None:
        return None
    if len(value) > MAX_TEXT_ATTR:
        raise ProtocolError(f"attribute {name!r} too long", ErrCode.TOO_LARGE)
    return value.strip()


def _required(element: etree._Element, name: str) -> str:
    value = _attr(element, name)
    if not value:
        raise ProtocolError(f"<{_tag(element)}> needs a non-empty {name!r}")
    return value


def _name_attr(element: etree._Element, name: str) -> str:
    value = _required(element, name)
    if not is_valid_name(value):
        raise ProtocolError(f"bad {name} {value!r} in <{_tag(element)}>")
    return value


def _int_attr(element: etree._Element, name: str, *, default: int | None = None) -> int:
    value = _attr(element, name)
    if not value:
        if default is None:
            raise ProtocolError(f"<{_tag(element)}> needs {name!r}")
        return default
    if not _is_decimal(value) or len(value) > 10 or int(value) > 0xFFFFFFFF:
        raise ProtocolError(f"{name}={value!r} is not an unsigned integer")
    return int(value)


def _port_attr(element: etree._Element, name: str) -> int:
    port = _int_attr(element, name)
    if not 0 < port < 65536:
        raise ProtocolError(f"{name}={port} is not a port number")
    return port


def _interphone_id(element: etree._Element) -> InterphoneId:
    return InterphoneId.parse(_required(element, "id"))


def _children(
    element: etree._Element, tag: str, limit: int, errcode: ErrCode = ErrCode.TOO_LARGE
) -> list[etree._Element]:
    found = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag != tag:
            raise ProtocolError(f"unexpected <{_tag(child)}> in <{_tag(element)}>")
        found.append(child)
        if len(found) > limit:
            raise ProtocolError(f"more than {limit} <{tag}> elements in <{_tag(element)}>",
                                errcode)
    return found


def _type_is(element: etree._Element, expected: str) -> None:
    if _attr(element, "type") != expected:
        raise ProtocolError(f"<{_tag(element)}> needs type={expected!r}")


def _decode_error(element: etree._Element) -> ErrorReply:
    code = _attr(element, "errcode") or ""
    if not _is_decimal(code) or len(code) > 4:
        raise ProtocolError(f"errcode {code!r} is not a decimal code")
    return ErrorReply(
        tag=_tag(element),
        errcode=int(code),
        errmsg=element.get("errmsg") or "",
        type=_attr(element, "type"),
        id=_attr(element, "id"),
        holder=_attr(element, "holder") or "",
        reason=_attr(element, "reason") or "",
    )


def _bool_attr(element: etree._Element, name: str) -> bool:
    """An extension's boolean: '1' true, '0' or absent false, anything else 400."""
    value = _attr(element, name)
    if value in (None, "", "0"):
        return False
    if value == "1":
        return True
    raise ProtocolError(f"{name}={value!r} is not '0' or '1'")


def _optional_name(element: etree._Element, name: str) -> str:
    value = _attr(element, name) or ""
    if value and not is_valid_name(value):
        raise ProtocolError(f"bad {name} {value!r} in <{_tag(element)}>")
    return value


def _decode_login(element: etree._Element) -> Login:
    return Login(
        uid=_name_attr(element, "uid"),
        token=element.get("token") or "",
        version=_attr(element, "version") or "1",
        features=parse_features(_attr(element, "features")),
    )


def _decode_login_result(element: etree._Element) -> LoginResult:
    roster = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in _ROSTER_KINDS:
            raise ProtocolError(f"unexpected <{_tag(child)}> in the roster")
        roster.append(RosterEntry(child.tag, _name_attr(child, "id"), child.get("name") or ""))
    return LoginResult(
        uid=_name_attr(element, "uid"),
        udp_port=_port_attr(element, "udp_port"),
        keepalive=_int_attr(element, "keepalive", default=15),
        max_talk=_int_attr(element, "max_talk", default=60),
        roster=tuple(roster),
        features=parse_features(_attr(element, "features")),
        media_secret=_attr(element, "media_secret") or "",
        priority=(_int_attr(element, "priority") if _attr(element, "priority") else None),
        dispatcher=_bool_attr(element, "dispatcher"),
    )


def _decode_ping(element: etree._Element) -> Ping:
    return Ping()


def _decode_kicked(element: etree._Element) -> Kicked:
    return Kicked(_attr(element, "reason") or "")


def _decode_member_child(element: etree._Element) -> str | None:
    # At most one: the session's own uid. More is malformed, not "too large".
    members = _children(element, "member", 1, ErrCode.BAD_REQUEST)
    return _name_attr(members[0], "id") if members else None


def _decode_info(element: etree._Element) -> InterphoneInfo:
    interphone = _interphone_id(element)
    attach_type = _attr(element, "attach_type")
    if attach_type and attach_type != interphone.kind.value:
        raise ProtocolError(f"attach_type {attach_type!r} does not match {interphone}")
    members = _children(element, "member", MAX_MEMBERS)
    speaker = _attr(element, "speaker") or ""
    if speaker and not is_valid_name(speaker):
        raise ProtocolError(f"bad speaker {speaker!r}")
    return InterphoneInfo(
        id=interphone,
        attach_id=_attr(element, "attach_id") or "",
        member_count=_int_attr(element, "member_count", default=0),
        speaker=speaker,
        members=tuple(_name_attr(m, "id") for m in members) if members else None,
        emergency=_optional_name(element, "emergency"),
    )


def _decode_sync_request(element: etree._Element) -> SyncRequest:
    _type_is(element, "sync")
    items = _children(element, "interphone", MAX_SYNC_IDS)
    return SyncRequest(tuple(_interphone_id(item) for item in items))


def _decode_sync_result(element: etree._Element) -> SyncResult:
    _type_is(element, "sync")
    # The answer may exceed MAX_SYNC_IDS: it adds every active chat of the user,
    # listed or not. The frame limit bounds it.
    items = _children(element, "interphone", MAX_FRAME)
    return SyncResult(tuple(_decode_info(item) for item in items))


def _decode_interphone_request(element: etree._Element) -> Body:
    action = _attr(element, "type")
    interphone = _interphone_id(element)
    if action == "sync":
        _children(element, "member", 0, ErrCode.BAD_REQUEST)
        return MembersRequest(interphone)
    if action == "add":
        return JoinRequest(interphone, _decode_member_child(element))
    if action == "quit":
        return QuitRequest(interphone, _decode_member_child(element))
    raise ProtocolError(f"unknown <interphone> type {action!r}")


def _decode_interphone_response(element: etree._Element) -> Body:
    action = _attr(element, "type")
    media_key = None
    if action == "add":
        keys = [c for c in element if isinstance(c.tag, str) and c.tag == "media_key"]
        if len(keys) > 1:
            raise ProtocolError("more than one <media_key> in a join response")
        for child in keys:
            media_key = _decode_media_key(child)
            element.remove(child)
    info = _decode_info(element)
    if action == "sync":
        return MembersResult(info)
    if action == "add":
        return JoinResult(info, media_key)
    if action == "quit":  # count-only by contract: a member list is ignored
        return QuitResult(InterphoneInfo(info.id, info.attach_id, info.member_count,
                                         info.speaker))
    raise ProtocolError(f"unknown <interphone> type {action!r}")


def _decode_notification(element: etree._Element) -> InterphoneChanged:
    return InterphoneChanged(_decode_info(element))


def _decode_media_key(element: etree._Element) -> MediaKeyNotice:
    return MediaKeyNotice(_interphone_id(element), _int_attr(element, "epoch"),
                          _required(element, "key"))


def _speak_type(element: etree._Element, *, required: bool) -> bool | None:
    value = _attr(element, "type")
    if value in ("on", "off"):
        return value == "on"
    if value is None and not required:
        return None
    raise ProtocolError(f"<speak> type must be 'on' or 'off', not {value!r}")


def _decode_speak_request(element: etree._Element) -> SpeakRequest:
    return SpeakRequest(_speak_type(element, required=True) or False, _interphone_id(element),
                        queue=_bool_attr(element, "queue"),
                        emergency=_bool_attr(element, "emergency"))


def _decode_speak_result(element: etree._Element) -> SpeakResult:
    raw_id = _attr(element, "id")
    queued = _bool_attr(element, "queued")
    return SpeakResult(
        _speak_type(element, required=False),
        InterphoneId.parse(raw_id) if raw_id else None,
        queued=queued,
        position=_int_attr(element, "position", default=0) if queued else 0,
        grant=_int_attr(element, "grant", default=0),
    )


# ---- extension presence (docs/protocol-extensions.md) ----------------------------------------

_STATUS = {"online": True, "offline": False}


def _status_attr(element: etree._Element) -> bool:
    value = _attr(element, "status")
    if value not in _STATUS:
        raise ProtocolError(f"presence status must be 'online' or 'offline', not {value!r}")
    return _STATUS[value]


def _decode_presence_request(element: etree._Element) -> PresenceSyncRequest:
    _type_is(element, "sync")
    return PresenceSyncRequest()


def _decode_presence_result(element: etree._Element) -> PresenceSyncResult:
    _type_is(element, "sync")
    contacts = _children(element, "contact", MAX_FRAME)
    return PresenceSyncResult(tuple(ContactPresence(_name_attr(c, "id"), _status_attr(c))
                                    for c in contacts))


def _decode_presence_notice(element: etree._Element) -> PresenceChanged:
    return PresenceChanged(_name_attr(element, "uid"), _status_attr(element))


_E = TypeVar("_E", bound=StrEnum)


def _enum_attr(element: etree._Element, name: str, kind: type[_E]) -> _E:
    value = _attr(element, name)
    try:
        return kind(value or "")
    except ValueError:
        raise ProtocolError(f"<{_tag(element)}> {name}={value!r} is unknown") from None


def _decode_call_request(element: etree._Element) -> CallRequest:
    return CallRequest(_enum_attr(element, "type", CallAction), _interphone_id(element))


def _decode_call_result(element: etree._Element) -> CallResult:
    state = _enum_attr(element, "state", RingState) if _attr(element, "state") else None
    return CallResult(_enum_attr(element, "type", CallAction), _interphone_id(element), state,
                      _int_attr(element, "timeout", default=0))


def _decode_call_notice(element: etree._Element) -> CallNotice:
    peer = _attr(element, "from") or ""
    if peer and not is_valid_name(peer):
        raise ProtocolError(f"bad caller {peer!r}")
    return CallNotice(_enum_attr(element, "type", CallNoticeType), _interphone_id(element), peer,
                      _int_attr(element, "timeout", default=0), _attr(element, "reason") or "")


def _encode_presence(body: Body) -> etree._Element | None:
    match body:
        case PresenceSyncRequest():
            return _element("presence", type="sync")
        case PresenceSyncResult(contacts):
            element = _element("presence", type="sync")
            for contact in contacts:
                element.append(_element("contact", id=contact.uid,
                                        status="online" if contact.online else "offline"))
            return element
        case PresenceChanged(uid, online):
            return _element("presence", uid=uid, status="online" if online else "offline")
        case CallRequest(action, interphone):
            return _element("call", type=action.value, id=str(interphone))
        case CallResult(action, interphone, state, timeout):
            return _element("call", type=action.value, id=str(interphone),
                            state=state.value if state else None,
                            timeout=str(timeout) if timeout else None)
        case CallNotice(kind, interphone, peer, timeout, reason):
            return _element("call", type=kind.value, id=str(interphone), **{"from": peer or None},
                            timeout=str(timeout) if timeout else None, reason=reason or None)
    return None
def _decode_floor_notice(element: etree._Element) -> FloorNotice:
    try:
        kind = FloorNoticeType(_attr(element, "type") or "")
    except ValueError:
        raise ProtocolError(f"unknown <floor> type {element.get('type')!r}") from None
    return FloorNotice(_interphone_id(element), kind,
                       position=_int_attr(element, "position", default=0),
                       reason=_attr(element, "reason") or "",
                       by=_optional_name(element, "by"),
                       grant=_int_attr(element, "grant", default=0))


def _emergency_action(element: etree._Element) -> EmergencyAction:
    try:
        return EmergencyAction(_attr(element, "type") or "")
    except ValueError:
        raise ProtocolError(f"<emergency> type must be 'raise' or 'cancel', "
                            f"not {element.get('type')!r}") from None


def _decode_emergency_request(element: etree._Element) -> EmergencyRequest:
    return EmergencyRequest(_emergency_action(element), _interphone_id(element))


def _decode_emergency_state(element: etree._Element) -> EmergencyState:
    return EmergencyState(_emergency_action(element), _interphone_id(element),
                          _optional_name(element, "by"),
                          _optional_name(element, "cancelled_by"))


_DECIMAL_MAX = 100000.0


def _decimal_attr(element: etree._Element, name: str, *, limit: float = _DECIMAL_MAX,
                  default: float | None = None) -> float:
    """A non-negative decimal ``[0-9]{1,6}(.[0-9]{1,3})?`` no greater than ``limit``."""
    value = _attr(element, name)
    if not value:
        if default is None:
            raise ProtocolError(f"<{_tag(element)}> needs {name!r}")
        return default
    whole, dot, fraction = value.partition(".")
    if (not _is_decimal(whole) or len(whole) > 6
            or (dot and (not _is_decimal(fraction) or len(fraction) > 3))):
        raise ProtocolError(f"{name}={value!r} is not a decimal number")
    number = float(value)
    if number > limit:
        raise ProtocolError(f"{name}={value!r} is over {limit:g}")
    return number


def _format_decimal(value: float) -> str:
    """At most 2 decimals, no exponent, no trailing zeros (``4.8``, ``0``, ``12.25``)."""
    text = f"{max(0.0, value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _decode_quality_report(element: etree._Element) -> QualityReport:
    return QualityReport(
        id=_interphone_id(element),
        speaker=_name_attr(element, "speaker"),
        loss_pct=_decimal_attr(element, "loss", limit=100.0),
        jitter_ms=_decimal_attr(element, "jitter", default=0.0),
        late=_int_attr(element, "late", default=0),
        concealed=_int_attr(element, "concealed", default=0),
        recovered=_int_attr(element, "recovered", default=0),
        packets=_int_attr(element, "packets", default=0),
    )


def _decode_quality_ack(element: etree._Element) -> QualityAck:
    return QualityAck(_interphone_id(element))


def _decode_feedback(element: etree._Element) -> FeedbackNotice:
    return FeedbackNotice(
        id=_interphone_id(element),
        listeners=_int_attr(element, "listeners", default=0),
        worst_pct=_decimal_attr(element, "worst", limit=100.0),
        p90_pct=_decimal_attr(element, "p90", limit=100.0),
        jitter_ms=_decimal_attr(element, "jitter", default=0.0),
    )


_SESSION, _INTERPHONE = Module.SESSION.value, Module.INTERPHONE.value
_REQUEST, _RESPONSE = MessageKind.REQUEST, MessageKind.RESPONSE
_NOTIFICATION = MessageKind.NOTIFICATION
_DECODERS: dict[tuple[str | None, MessageKind, str | None], Callable[[etree._Element], Body]] = {
    (_SESSION, _REQUEST, "login"): _decode_login,
    (_SESSION, _RESPONSE, "login"): _decode_login_result,
    (_SESSION, _REQUEST, "ping"): _decode_ping,
    (_SESSION, _RESPONSE, "ping"): _decode_ping,
    (_SESSION, _NOTIFICATION, "kicked"): _decode_kicked,
    (_INTERPHONE, _REQUEST, "interphones"): _decode_sync_request,
    (_INTERPHONE, _RESPONSE, "interphones"): _decode_sync_result,
    (_INTERPHONE, _REQUEST, "interphone"): _decode_interphone_request,
    (_INTERPHONE, _RESPONSE, "interphone"): _decode_interphone_response,
    (_INTERPHONE, _NOTIFICATION, "interphone"): _decode_notification,
    (_INTERPHONE, _REQUEST, "speak"): _decode_speak_request,
    (_INTERPHONE, _RESPONSE, "speak"): _decode_speak_result,
    (_INTERPHONE, _NOTIFICATION, "media_key"): _decode_media_key,
    (_SESSION, _REQUEST, "presence"): _decode_presence_request,
    (_SESSION, _RESPONSE, "presence"): _decode_presence_result,
    (_SESSION, _NOTIFICATION, "presence"): _decode_presence_notice,
    (_INTERPHONE, _REQUEST, "call"): _decode_call_request,
    (_INTERPHONE, _RESPONSE, "call"): _decode_call_result,
    (_INTERPHONE, _NOTIFICATION, "call"): _decode_call_notice,
    (_INTERPHONE, _NOTIFICATION, "floor"): _decode_floor_notice,
    (_INTERPHONE, _REQUEST, "emergency"): _decode_emergency_request,
    (_INTERPHONE, _RESPONSE, "emergency"): _decode_emergency_state,
    (_INTERPHONE, _NOTIFICATION, "emergency"): _decode_emergency_state,
    (_INTERPHONE, _REQUEST, "quality"): _decode_quality_report,
    (_INTERPHONE, _RESPONSE, "quality"): _decode_quality_ack,
    (_INTERPHONE, _NOTIFICATION, "feedback"): _decode_feedback,
}


# ---- encoding ----------------------------------------------------------------------------


_KINDS_OF: dict[type, tuple[MessageKind, ...]] = {
    Login: (_REQUEST,),
    LoginResult: (_RESPONSE,),
    Ping: (_REQUEST, _RESPONSE),
    Kicked: (_NOTIFICATION,),
    SyncRequest: (_REQUEST,),
    SyncResult: (_RESPONSE,),
    MembersRequest: (_REQUEST,),
    MembersResult: (_RESPONSE,),
    JoinRequest: (_REQUEST,),
    JoinResult: (_RESPONSE,),
    QuitRequest: (_REQUEST,),
    QuitResult: (_RESPONSE,),
    InterphoneChanged: (_NOTIFICATION,),
    SpeakRequest: (_REQUEST,),
    SpeakResult: (_RESPONSE,),
    MediaKeyNotice: (_NOTIFICATION,),
    FloorNotice: (_NOTIFICATION,),
    EmergencyRequest: (_REQUEST,),
    EmergencyState: (_RESPONSE, _NOTIFICATION),
    QualityReport: (_REQUEST,),
    QualityAck: (_RESPONSE,),
    FeedbackNotice: (_NOTIFICATION,),
    ErrorReply: (_RESPONSE,),
    PresenceSyncRequest: (_REQUEST,),
    PresenceSyncResult: (_RESPONSE,),
    PresenceChanged: (_NOTIFICATION,),
    CallRequest: (_REQUEST,),
    CallResult: (_RESPONSE,),
    CallNotice: (_NOTIFICATION,),
}
"""Which envelope each body belongs in: the encoder refuses any other pairing."""


def encode_message(message: Message) -> bytes:
    """Serialize a :class:`Message` to a UTF-8 XML document (no declaration).

    A body in an envelope it does not belong in (a :class:`LoginResult` sent as a
    request, a :class:`JoinRequest` in ``MID_SESSION``) is the caller's mistake:
    :class:`ValueError`, as the peer would misread it.
    """
    _check_pairing(message)
    root = etree.Element("message")
    root.set("type", message.kind.value)
    if message.seq is not None:
        root.set("seq", message.seq)
    root.set("module", message.module)
    root.append(_encode_body(message.body, message.kind))
    return etree.tostring(root, encoding="utf-8")


def _check_pairing(message: Message) -> None:
    body = message.body
    kinds = _KINDS_OF.get(type(body))
    if kinds is None:
        raise TypeError(f"cannot encode {type(body).__name__}")
    if message.kind not in kinds:
        raise ValueError(f"{type(body).__name__} cannot be sent as a {message.kind.value}")
    # A failed response echoes its request's module, whatever it was.
    if not isinstance(body, ErrorReply) and message.module != module_of(body).value:
        raise ValueError(f"{type(body).__name__} does not belong in module {message.module!r}")


def _element(tag: str, **attrs: str | None) -> etree._Element:
    element = etree.Element(tag)
    for name, value in attrs.items():
        if value is not None:
            element.set(name, value)
    return element


def _text(value: str) -> str:
    """Free text (names, errmsg, reason): characters XML cannot carry become U+FFFD."""
    return xml_safe(value)


def _info_element(
    info: InterphoneInfo, action: str | None, *, with_members: bool = True
) -> etree._Element:
    element = _element(
        "interphone",
        type=action,
        id=str(info.id),
        attach_type=info.id.kind.value,
        attach_id=info.attach_id,
        member_count=str(info.member_count),
        speaker=info.speaker,
        emergency=info.emergency or None,
    )
    if with_members and info.members is not None:
        for uid in info.members:
            element.append(_element("member", id=uid))
    return element


def _media_key_element(notice: MediaKeyNotice) -> etree._Element:
    return _element("media_key", id=str(notice.id), epoch=str(notice.epoch), key=notice.key)


def _encode_body(body: Body, kind: MessageKind) -> etree._Element:
    extension = _encode_presence(body)
    if extension is not None:
        return extension
    match body:
        case Login(uid, token, version, features):
            return _element("login", uid=uid, token=token, version=version,
                            features=format_features(features))
        case LoginResult(uid, udp_port, keepalive, max_talk, roster, features, secret):
            element = _element("login", uid=uid, udp_port=str(udp_port),
                               keepalive=str(keepalive), max_talk=str(max_talk),
                               features=format_features(features),
                               # extension priority (after the base attributes)
                               priority=None if body.priority is None else str(body.priority),
                               dispatcher="1" if body.dispatcher else None,
                               media_secret=secret or None)  # extension media-auth
            for entry in roster:
                element.append(_element(entry.kind, id=entry.id, name=_text(entry.name)))
            return element
        case Ping():
            return _element("ping")
        case Kicked(reason):
            return _element("kicked", reason=_text(reason))
        case SyncRequest(ids):
            element = _element("interphones", type="sync")
            for interphone in ids:
                element.append(_element("interphone", id=str(interphone)))
            return element
        case SyncResult(infos):
            element = _element("interphones", type="sync")
            for info in infos:
                element.append(_info_element(info, None, with_members=False))
            return element
        case MembersRequest(interphone):
            return _element("interphone", type="sync", id=str(interphone))
        case JoinRequest(interphone, member) | QuitRequest(interphone, member):
            action = "add" if isinstance(body, JoinRequest) else "quit"
            element = _element("interphone", type=action, id=str(interphone))
            if member is not None:
                element.append(_element("member", id=member))
            return element
        case MembersResult(info):
            return _info_element(info, "sync")
        case JoinResult(info, media_key):
            element = _info_element(info, "add")
            if media_key is not None:
                element.append(_media_key_element(media_key))
            return element
        case MediaKeyNotice():
            return _media_key_element(body)
        case QuitResult(info):
            return _info_element(info, "quit", with_members=False)
        case InterphoneChanged(info):
            return _info_element(info, None)
        case SpeakRequest(on, interphone):
            return _element("speak", type="on" if on else "off", id=str(interphone),
                            queue="1" if body.queue else None,
                            emergency="1" if body.emergency else None)
        case SpeakResult(on, interphone):
            return _element(
                "speak",
                type=None if on is None else ("on" if on else "off"),
                id=None if interphone is None else str(interphone),
                grant=str(body.grant) if body.grant else None,  # extension media-auth
                queued="1" if body.queued else None,  # extension floor-queue
                position=str(body.position) if body.queued else None,
            )
        case FloorNotice(interphone, notice, position, reason, by, grant):
            return _element("floor", id=str(interphone), type=notice.value,
                            position=str(position) if position else None,
                            reason=reason or None, by=by or None,
                            grant=str(grant) if grant else None)  # extension media-auth
        case EmergencyRequest(action, interphone):
            return _element("emergency", type=action.value, id=str(interphone))
        case EmergencyState(action, interphone, by, cancelled_by):
            return _element("emergency", type=action.value, id=str(interphone), by=by,
                            cancelled_by=(cancelled_by if action is EmergencyAction.CANCEL
                                          else None))
        case QualityReport(interphone, speaker, loss, jitter, late, concealed, recovered,
                           packets):
            return _element("quality", id=str(interphone), speaker=speaker,
                            loss=_format_decimal(min(loss, 100.0)),
                            jitter=_format_decimal(jitter), late=str(late),
                            concealed=str(concealed), recovered=str(recovered),
                            packets=str(packets))
        case QualityAck(interphone):
            return _element("quality", id=str(interphone))
        case FeedbackNotice(interphone, listeners, worst, p90, jitter):
            return _element("feedback", id=str(interphone), listeners=str(listeners),
                            worst=_format_decimal(min(worst, 100.0)),
                            p90=_format_decimal(min(p90, 100.0)),
                            jitter=_format_decimal(jitter))
        case ErrorReply(tag, errcode, errmsg, action, raw_id):
            return _element(tag, type=action, id=raw_id, errcode=str(errcode),
                            errmsg=_text(errmsg), holder=body.holder or None,
                            reason=body.reason or None)
    raise TypeError(f"cannot encode {type(body).__name__} as a {kind.value}")
