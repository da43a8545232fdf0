"""The XML of extension roster's ``<roster>`` notice (docs/protocol-extensions.md): the
session's whole roster again, with its own display name, after a directory reload changed
either. Its children are the login response's (:mod:`app.protocol.xmlcodec.base`)."""

from __future__ import annotations

from lxml import etree

from app.protocol.messages import Body, RosterNotice
from app.protocol.xmlcodec.attributes import new_element, safe_text
from app.protocol.xmlcodec.base import append_roster, decode_roster
from app.protocol.xmlcodec.document import NOTIFICATION, SESSION, Decoders, Kinds


def decode_roster_notice(element: etree._Element) -> RosterNotice:
    return RosterNotice(decode_roster(element), element.get("name") or "")


def encode(body: Body) -> etree._Element | None:
    if not isinstance(body, RosterNotice):
        return None
    element = new_element("roster", name=safe_text(body.name) or None)
    append_roster(element, body.roster)
    return element


DECODERS: Decoders = {
    (SESSION, NOTIFICATION, "roster"): decode_roster_notice,
}
KINDS: Kinds = {
    RosterNotice: (NOTIFICATION,),
}
