"""The XML of extension health's ``<health>`` notice (docs/protocol-extensions.md): the
node's shared store unreachable, or reachable again."""

from __future__ import annotations

from lxml import etree

from app.protocol.health import HealthNotice, StoreState
from app.protocol.messages import Body
from app.protocol.xmlcodec.attributes import enum_attr, new_element
from app.protocol.xmlcodec.document import NOTIFICATION, SESSION, Decoders, Kinds


def decode_health(element: etree._Element) -> HealthNotice:
    return HealthNotice(enum_attr(element, "store", StoreState))


def encode(body: Body) -> etree._Element | None:
    if not isinstance(body, HealthNotice):
        return None
    return new_element("health", store=body.store.value)


DECODERS: Decoders = {
    (SESSION, NOTIFICATION, "health"): decode_health,
}
KINDS: Kinds = {
    HealthNotice: (NOTIFICATION,),
}
