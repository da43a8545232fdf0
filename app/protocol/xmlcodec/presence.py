"""The XML of extension presence (docs/protocol-extensions.md): contacts' ``<presence>``
and the ``<call>`` that rings a one-to-one chat."""

from __future__ import annotations

import functools

from lxml import etree

from app.protocol.errors import ProtocolError
from app.protocol.ids import is_valid_name
from app.protocol.limits import MAX_FRAME
from app.protocol.messages import Body
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
from app.protocol.xmlcodec.attributes import (
    attr,
    children,
    enum_attr,
    int_attr,
    interphone_id,
    name_attr,
    new_element,
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

_STATUS = {"online": True, "offline": False}


def _status_attr(element: etree._Element) -> bool:
    value = attr(element, "status")
    if value not in _STATUS:
        raise ProtocolError(f"presence status must be 'online' or 'offline', not {value!r}")
    return _STATUS[value]


def _decode_presence_request(element: etree._Element) -> PresenceSyncRequest:
    type_is(element, "sync")
    return PresenceSyncRequest()


@functools.lru_cache(maxsize=1 << 17)
def _contact_xml(contact: ContactPresence) -> bytes:
    """One contact's ``<contact id= status=/>``, made once (element by element, a sync of
    a thousand contacts took about 10 ms: every client asks after a login and again after
    a reload's roster notice)."""
    return etree.tostring(new_element(
        "contact", id=contact.uid, status="online" if contact.online else "offline"),
        encoding="utf-8")


def _decode_presence_result(element: etree._Element) -> PresenceSyncResult:
    type_is(element, "sync")
    contacts = children(element, "contact", MAX_FRAME)
    return PresenceSyncResult(tuple(ContactPresence(name_attr(c, "id"), _status_attr(c))
                                    for c in contacts))


def _decode_presence_notice(element: etree._Element) -> PresenceChanged:
    return PresenceChanged(name_attr(element, "uid"), _status_attr(element))


def _decode_call_request(element: etree._Element) -> CallRequest:
    return CallRequest(enum_attr(element, "type", CallAction), interphone_id(element))


def _decode_call_result(element: etree._Element) -> CallResult:
    state = enum_attr(element, "state", RingState) if attr(element, "state") else None
    return CallResult(enum_attr(element, "type", CallAction), interphone_id(element), state,
                      int_attr(element, "timeout", default=0))


_KEPT_XML: dict[int, tuple[ContactPresence, bytes]] = {}
"""Each contact's XML by the object's identity (kept beside it, so that its id is not
reused meanwhile): the server answers every sync with the same objects of a contact
(:class:`~app.server.presence.PresenceRules`), and a lookup by identity costs a fraction
of :func:`_contact_xml`'s by value (which hashes and compares the fields)."""
_KEPT_MAX = 1 << 17


def _kept_xml(contact: ContactPresence) -> bytes:
    known = _KEPT_XML.get(id(contact))
    if known is None or known[0] is not contact:
        if len(_KEPT_XML) >= _KEPT_MAX:
            _KEPT_XML.clear()
        known = _KEPT_XML[id(contact)] = (contact, _contact_xml(contact))
    return known[1]


def contact_size(contact: ContactPresence) -> int:
    """Bytes ``contact`` adds to the XML of a sync's answer: its XML, kept."""
    return len(_kept_xml(contact))


def contacts_xml(contacts: tuple[ContactPresence, ...]) -> bytes:
    """The ``<contact/>`` elements of a sync's answer, one after the other (lxml's bytes:
    :func:`app.protocol.xmlcodec.encode_message` splices them into a long answer)."""
    return b"".join(map(_kept_xml, contacts))


def _decode_call_notice(element: etree._Element) -> CallNotice:
    peer = attr(element, "from") or ""
    if peer and not is_valid_name(peer):
        raise ProtocolError(f"bad caller {peer!r}")
    return CallNotice(enum_attr(element, "type", CallNoticeType), interphone_id(element), peer,
                      int_attr(element, "timeout", default=0), attr(element, "reason") or "")


def encode(body: Body) -> etree._Element | None:
    """The element of a presence or call body, None for any other body."""
    match body:
        case PresenceSyncRequest():
            return new_element("presence", type="sync")
        case PresenceSyncResult(contacts):
            element = new_element("presence", type="sync")
            if len(contacts) < 16:
                for contact in contacts:
                    element.append(new_element("contact", id=contact.uid,
                                               status="online" if contact.online else "offline"))
            else:  # a thousand contacts: from each one's XML, kept, parsed in one go
                element.extend(etree.fromstring(b"<r>" + contacts_xml(contacts) + b"</r>"))
            return element
        case PresenceChanged(uid, online):
            return new_element("presence", uid=uid, status="online" if online else "offline")
        case CallRequest(action, interphone):
            return new_element("call", type=action.value, id=str(interphone))
        case CallResult(action, interphone, state, timeout):
            return new_element("call", type=action.value, id=str(interphone),
                               state=state.value if state else None,
                               timeout=str(timeout) if timeout else None)
        case CallNotice(kind, interphone, peer, timeout, reason):
            return new_element("call", type=kind.value, id=str(interphone),
                               **{"from": peer or None},
                               timeout=str(timeout) if timeout else None, reason=reason or None)
    return None


DECODERS: Decoders = {
    (SESSION, REQUEST, "presence"): _decode_presence_request,
    (SESSION, RESPONSE, "presence"): _decode_presence_result,
    (SESSION, NOTIFICATION, "presence"): _decode_presence_notice,
    (INTERPHONE, REQUEST, "call"): _decode_call_request,
    (INTERPHONE, RESPONSE, "call"): _decode_call_result,
    (INTERPHONE, NOTIFICATION, "call"): _decode_call_notice,
}
KINDS: Kinds = {
    PresenceSyncRequest: (REQUEST,),
    PresenceSyncResult: (RESPONSE,),
    PresenceChanged: (NOTIFICATION,),
    CallRequest: (REQUEST,),
    CallResult: (RESPONSE,),
    CallNotice: (NOTIFICATION,),
}
