"""The XML of the base contract's bodies (PROTOCOL.md): login, ping, kicked, interphones,
interphone (members, join, quit, changes), speak and the error reply.

The extensions' attributes on these elements (``features``, ``priority``,
``dispatcher``, ``media_secret``, ``queue``, ``emergency``, ``emergency_id``, ``grant``,
``queued``, ``position``, a join's ``<media_key>``) are read and written here
too, as they belong to these elements; a session without the extensions never
receives them.
"""

from __future__ import annotations

import functools

from lxml import etree

from app.protocol.errors import ErrCode, ProtocolError
from app.protocol.features import format_features, parse_features
from app.protocol.ids import InterphoneId, is_valid_name
from app.protocol.limits import MAX_FRAME, MAX_MEMBERS, MAX_SYNC_IDS
from app.protocol.messages import (
    Body,
    ErrorReply,
    InterphoneChanged,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Kicked,
    Login,
    LoginResult,
    MembersRequest,
    MembersResult,
    Ping,
    QuitRequest,
    QuitResult,
    RosterEntry,
    SpeakRequest,
    SpeakResult,
    SyncRequest,
    SyncResult,
)
from app.protocol.xmlcodec.attributes import (
    attr,
    bool_attr,
    children,
    flag_attr,
    int_attr,
    interphone_id,
    is_decimal,
    name_attr,
    new_element,
    optional_name,
    port_attr,
    safe_text,
    tag,
    type_is,
)
from app.protocol.xmlcodec.document import (
    INTERPHONE,
    NOTIFICATION,
    REQUEST,
    RESPONSE,
    SESSION,
    Decoders,
    Kinds,
)
from app.protocol.xmlcodec.media_auth import decode_media_key, media_key_element

_ROSTER_KINDS = ("group", "discuss", "contact")


# ---- decoding ----------------------------------------------------------------------------


def decode_error(element: etree._Element) -> ErrorReply:
    code = attr(element, "errcode") or ""
    if not is_decimal(code) or len(code) > 4:
        raise ProtocolError(f"errcode {code!r} is not a decimal code")
    return ErrorReply(
        tag=tag(element),
        errcode=int(code),
        errmsg=element.get("errmsg") or "",
        type=attr(element, "type"),
        id=attr(element, "id"),
        holder=attr(element, "holder") or "",
        reason=attr(element, "reason") or "",
    )


def _decode_login(element: etree._Element) -> Login:
    return Login(
        uid=name_attr(element, "uid"),
        token=element.get("token") or "",
        version=attr(element, "version") or "1",
        features=parse_features(attr(element, "features")),
    )


def decode_roster(element: etree._Element) -> tuple[RosterEntry, ...]:
    """The roster children of a login response (or of extension roster's notice)."""
    roster = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in _ROSTER_KINDS:
            raise ProtocolError(f"unexpected <{tag(child)}> in the roster")
        roster.append(RosterEntry(child.tag, name_attr(child, "id"), child.get("name") or ""))
    return tuple(roster)


@functools.lru_cache(maxsize=1 << 17)
def _entry_xml(entry: RosterEntry) -> bytes:
    """The XML of one roster entry, made once: the same contacts are in every roster."""
    return etree.tostring(
        new_element(entry.kind, id=entry.id, name=safe_text(entry.name)), encoding="utf-8")


def append_roster(element: etree._Element, roster: tuple[RosterEntry, ...]) -> None:
    """The entries as children of ``element`` (a long roster is spliced in as bytes by
    :func:`~app.protocol.xmlcodec.encode_message` instead, from :func:`roster_xml`)."""
    for entry in roster:
        element.append(new_element(entry.kind, id=entry.id, name=safe_text(entry.name)))


_KEPT_XML: dict[int, tuple[RosterEntry, bytes]] = {}
"""Each entry's XML by the entry object's identity (the entry kept beside it, so that its
id is not reused meanwhile): the directory's rosters share their entry objects, and a
lookup by identity costs a tenth of :func:`_entry_xml`'s by value, which after a reload
compares every new entry with the equal one of the previous directory field by field
(~2.5 ms a roster of a thousand contacts, on the loop, for each session told)."""
_KEPT_MAX = 1 << 17


def roster_xml(roster: tuple[RosterEntry, ...]) -> bytes:
    """The XML of the entries one after the other, as children of an element."""
    kept = _KEPT_XML
    parts = []
    for entry in roster:
        known = kept.get(id(entry))
        if known is None or known[0] is not entry:
            if len(kept) >= _KEPT_MAX:
                kept.clear()
            known = kept[id(entry)] = (entry, _entry_xml(entry))
        parts.append(known[1])
    return b"".join(parts)


def _decode_login_result(element: etree._Element) -> LoginResult:
    return LoginResult(
        uid=name_attr(element, "uid"),
        udp_port=port_attr(element, "udp_port"),
        keepalive=int_attr(element, "keepalive", default=15),
        max_talk=int_attr(element, "max_talk", default=60),
        roster=decode_roster(element),
        features=parse_features(attr(element, "features")),
        media_secret=attr(element, "media_secret") or "",
        priority=(int_attr(element, "priority") if attr(element, "priority") else None),
        dispatcher=bool_attr(element, "dispatcher"),
        name=element.get("name") or "",  # extension roster
    )


def _decode_ping(element: etree._Element) -> Ping:
    return Ping()


def _decode_kicked(element: etree._Element) -> Kicked:
    return Kicked(attr(element, "reason") or "")


def _decode_member_child(element: etree._Element) -> str | None:
    # At most one: the session's own uid. More is malformed, not "too large".
    members = children(element, "member", 1, ErrCode.BAD_REQUEST)
    return name_attr(members[0], "id") if members else None


def _decode_info(element: etree._Element) -> InterphoneInfo:
    interphone = interphone_id(element)
    attach_type = attr(element, "attach_type")
    if attach_type and attach_type != interphone.kind.value:
        raise ProtocolError(f"attach_type {attach_type!r} does not match {interphone}")
    members = children(element, "member", MAX_MEMBERS)
    emergency = optional_name(element, "emergency")
    emergency_id = optional_name(element, "emergency_id")  # (malformed: rejected, also alone)
    speaker = attr(element, "speaker") or ""
    if speaker and not is_valid_name(speaker):
        raise ProtocolError(f"bad speaker {speaker!r}")
    return InterphoneInfo(
        id=interphone,
        attach_id=attr(element, "attach_id") or "",
        member_count=int_attr(element, "member_count", default=0),
        speaker=speaker,
        members=tuple(name_attr(m, "id") for m in members) if members else None,
        emergency=emergency,
        emergency_id=emergency_id if emergency else "",  # alone it names nothing
    )


def _decode_sync_request(element: etree._Element) -> SyncRequest:
    type_is(element, "sync")
    items = children(element, "interphone", MAX_SYNC_IDS)
    return SyncRequest(tuple(interphone_id(item) for item in items))


def _decode_sync_result(element: etree._Element) -> SyncResult:
    type_is(element, "sync")
    # The answer may exceed MAX_SYNC_IDS: it adds every active chat of the user,
    # listed or not. The frame limit bounds it.
    items = children(element, "interphone", MAX_FRAME)
    return SyncResult(tuple(_decode_info(item) for item in items))


def _decode_interphone_request(element: etree._Element) -> Body:
    action = attr(element, "type")
    interphone = interphone_id(element)
    if action == "sync":
        children(element, "member", 0, ErrCode.BAD_REQUEST)
        return MembersRequest(interphone)
    if action == "add":
        return JoinRequest(interphone, _decode_member_child(element))
    if action == "quit":
        return QuitRequest(interphone, _decode_member_child(element))
    raise ProtocolError(f"unknown <interphone> type {action!r}")


def _decode_interphone_response(element: etree._Element) -> Body:
    action = attr(element, "type")
    media_key = None
    if action == "add":
        keys = [c for c in element if isinstance(c.tag, str) and c.tag == "media_key"]
        if len(keys) > 1:
            raise ProtocolError("more than one <media_key> in a join response")
        for child in keys:
            media_key = decode_media_key(child)
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


def _speak_type(element: etree._Element, *, required: bool) -> bool | None:
    value = attr(element, "type")
    if value in ("on", "off"):
        return value == "on"
    if value is None and not required:
        return None
    raise ProtocolError(f"<speak> type must be 'on' or 'off', not {value!r}")


def _decode_speak_request(element: etree._Element) -> SpeakRequest:
    queue, bad_queue = flag_attr(element, "queue")
    emergency, bad_emergency = flag_attr(element, "emergency")
    bad = tuple((name, str(error), int(error.errcode))
                for name, error in (("queue", bad_queue), ("emergency", bad_emergency))
                if error is not None)
    return SpeakRequest(_speak_type(element, required=True) or False, interphone_id(element),
                        queue=queue, emergency=emergency, bad_flags=bad)


def _decode_speak_result(element: etree._Element) -> SpeakResult:
    raw_id = attr(element, "id")
    queued = bool_attr(element, "queued")
    return SpeakResult(
        _speak_type(element, required=False),
        InterphoneId.parse(raw_id) if raw_id else None,
        queued=queued,
        position=int_attr(element, "position", default=0) if queued else 0,
        grant=int_attr(element, "grant", default=0),
    )


DECODERS: Decoders = {
    (SESSION, REQUEST, "login"): _decode_login,
    (SESSION, RESPONSE, "login"): _decode_login_result,
    (SESSION, REQUEST, "ping"): _decode_ping,
    (SESSION, RESPONSE, "ping"): _decode_ping,
    (SESSION, NOTIFICATION, "kicked"): _decode_kicked,
    (INTERPHONE, REQUEST, "interphones"): _decode_sync_request,
    (INTERPHONE, RESPONSE, "interphones"): _decode_sync_result,
    (INTERPHONE, REQUEST, "interphone"): _decode_interphone_request,
    (INTERPHONE, RESPONSE, "interphone"): _decode_interphone_response,
    (INTERPHONE, NOTIFICATION, "interphone"): _decode_notification,
    (INTERPHONE, REQUEST, "speak"): _decode_speak_request,
    (INTERPHONE, RESPONSE, "speak"): _decode_speak_result,
}


# ---- encoding ----------------------------------------------------------------------------


KINDS: Kinds = {
    Login: (REQUEST,),
    LoginResult: (RESPONSE,),
    Ping: (REQUEST, RESPONSE),
    Kicked: (NOTIFICATION,),
    SyncRequest: (REQUEST,),
    SyncResult: (RESPONSE,),
    MembersRequest: (REQUEST,),
    MembersResult: (RESPONSE,),
    JoinRequest: (REQUEST,),
    JoinResult: (RESPONSE,),
    QuitRequest: (REQUEST,),
    QuitResult: (RESPONSE,),
    InterphoneChanged: (NOTIFICATION,),
    SpeakRequest: (REQUEST,),
    SpeakResult: (RESPONSE,),
    ErrorReply: (RESPONSE,),
}


def _info_element(
    info: InterphoneInfo, action: str | None, *, with_members: bool = True
) -> etree._Element:
    element = new_element(
        "interphone",
        type=action,
        id=str(info.id),
        attach_type=info.id.kind.value,
        attach_id=info.attach_id,
        member_count=str(info.member_count),
        speaker=info.speaker,
        emergency=info.emergency or None,
        emergency_id=info.emergency_id if info.emergency and info.emergency_id else None,
    )
    if with_members and info.members is not None:
        for uid in info.members:
            element.append(new_element("member", id=uid))
    return element


def encode(body: Body) -> etree._Element | None:
    """The element of a base-contract body, None for any other body."""
    match body:
        case Login(uid, token, version, features):
            return new_element("login", uid=uid, token=token, version=version,
                               features=format_features(features))
        case LoginResult(uid, udp_port, keepalive, max_talk, roster, features, secret):
            element = new_element("login", uid=uid, udp_port=str(udp_port),
                                  keepalive=str(keepalive), max_talk=str(max_talk),
                                  features=format_features(features),
                                  # extension priority (after the base attributes)
                                  priority=None if body.priority is None else str(body.priority),
                                  dispatcher="1" if body.dispatcher else None,
                                  media_secret=secret or None,  # extension media-auth
                                  name=safe_text(body.name) or None)  # extension roster
            append_roster(element, roster)
            return element
        case Ping():
            return new_element("ping")
        case Kicked(reason):
            return new_element("kicked", reason=safe_text(reason))
        case SyncRequest(ids):
            element = new_element("interphones", type="sync")
            for interphone in ids:
                element.append(new_element("interphone", id=str(interphone)))
            return element
        case SyncResult(infos):
            element = new_element("interphones", type="sync")
            for info in infos:
                element.append(_info_element(info, None, with_members=False))
            return element
        case MembersRequest(interphone):
            return new_element("interphone", type="sync", id=str(interphone))
        case JoinRequest(interphone, member) | QuitRequest(interphone, member):
            action = "add" if isinstance(body, JoinRequest) else "quit"
            element = new_element("interphone", type=action, id=str(interphone))
            if member is not None:
                element.append(new_element("member", id=member))
            return element
        case MembersResult(info):
            return _info_element(info, "sync")
        case JoinResult(info, media_key):
            element = _info_element(info, "add")
            if media_key is not None:
                element.append(media_key_element(media_key))
            return element
        case QuitResult(info):
            return _info_element(info, "quit", with_members=False)
        case InterphoneChanged(info):
            return _info_element(info, None)
        case SpeakRequest(on, interphone):
            return new_element("speak", type="on" if on else "off", id=str(interphone),
                               queue="1" if body.queue else None,
                               emergency="1" if body.emergency else None)
        case SpeakResult(on, interphone):
            return new_element(
                "speak",
                type=None if on is None else ("on" if on else "off"),
                id=None if interphone is None else str(interphone),
                grant=str(body.grant) if body.grant else None,  # extension media-auth
                queued="1" if body.queued else None,  # extension floor-queue
                position=str(body.position) if body.queued else None,
            )
        case ErrorReply(error_tag, errcode, errmsg, action, raw_id):
            return new_element(error_tag, type=action, id=raw_id, errcode=str(errcode),
                               errmsg=safe_text(errmsg), holder=body.holder or None,
                               reason=body.reason or None)
    return None
