"""The XML of the floor extensions' own bodies (docs/protocol-extensions.md): the ``<floor>``
notice (floor-queue, priority) and ``<emergency>`` (emergency).

Their attributes on the base ``<speak>`` and ``<interphone>`` are in
:mod:`app.protocol.xmlcodec.base`.
"""

from __future__ import annotations

from lxml import etree

from app.protocol.errors import ProtocolError
from app.protocol.messages import (
    Body,
    EmergencyAction,
    EmergencyRequest,
    EmergencyState,
    FloorNotice,
    FloorNoticeType,
)
from app.protocol.xmlcodec.attributes import (
    attr,
    int_attr,
    interphone_id,
    new_element,
    optional_name,
)
from app.protocol.xmlcodec.document import (
    INTERPHONE,
    NOTIFICATION,
    REQUEST,
    RESPONSE,
    Decoders,
    Kinds,
)


def _decode_floor_notice(element: etree._Element) -> FloorNotice:
    try:
        kind = FloorNoticeType(attr(element, "type") or "")
    except ValueError:
        raise ProtocolError(f"unknown <floor> type {element.get('type')!r}") from None
    return FloorNotice(interphone_id(element), kind,
                       position=int_attr(element, "position", default=0),
                       reason=attr(element, "reason") or "",
                       by=optional_name(element, "by"),
                       grant=int_attr(element, "grant", default=0))


def _emergency_action(element: etree._Element) -> EmergencyAction:
    try:
        return EmergencyAction(attr(element, "type") or "")
    except ValueError:
        raise ProtocolError(f"<emergency> type must be 'raise' or 'cancel', "
                            f"not {element.get('type')!r}") from None


def _decode_emergency_request(element: etree._Element) -> EmergencyRequest:
    return EmergencyRequest(_emergency_action(element), interphone_id(element))


def _decode_emergency_state(element: etree._Element) -> EmergencyState:
    return EmergencyState(_emergency_action(element), interphone_id(element),
                          optional_name(element, "by"),
                          optional_name(element, "cancelled_by"),
                          optional_name(element, "emergency_id"))


def encode(body: Body) -> etree._Element | None:
    """The element of a floor notice or an emergency, None for any other body."""
    match body:
        case FloorNotice(interphone, notice, position, reason, by, grant):
            return new_element("floor", id=str(interphone), type=notice.value,
                               position=str(position) if position else None,
                               reason=reason or None, by=by or None,
                               grant=str(grant) if grant else None)  # extension media-auth
        case EmergencyRequest(action, interphone):
            return new_element("emergency", type=action.value, id=str(interphone))
        case EmergencyState(action, interphone, by, cancelled_by, emergency_id):
            return new_element("emergency", type=action.value, id=str(interphone), by=by,
                               cancelled_by=(cancelled_by if action is EmergencyAction.CANCEL
                                             else None),
                               emergency_id=emergency_id or None)
    return None


DECODERS: Decoders = {
    (INTERPHONE, NOTIFICATION, "floor"): _decode_floor_notice,
    (INTERPHONE, REQUEST, "emergency"): _decode_emergency_request,
    (INTERPHONE, RESPONSE, "emergency"): _decode_emergency_state,
    (INTERPHONE, NOTIFICATION, "emergency"): _decode_emergency_state,
}
KINDS: Kinds = {
    FloorNotice: (NOTIFICATION,),
    EmergencyRequest: (REQUEST,),
    EmergencyState: (RESPONSE, NOTIFICATION),
}
