"""The XML of extension media-auth's ``<media_key>`` (docs/protocol-extensions.md).

It comes alone as a notification (a new key for the interphone) and inside a
join response (:mod:`app.protocol.xmlcodec.base`); the grant numbers ride on
the base ``<speak>`` and the ``<floor>`` notice.
"""

from __future__ import annotations

from lxml import etree

from app.protocol.messages import Body, MediaKeyNotice
from app.protocol.xmlcodec.attributes import int_attr, interphone_id, new_element, required
from app.protocol.xmlcodec.document import INTERPHONE, NOTIFICATION, Decoders, Kinds


def decode_media_key(element: etree._Element) -> MediaKeyNotice:
    return MediaKeyNotice(interphone_id(element), int_attr(element, "epoch"),
                          required(element, "key"))


def media_key_element(notice: MediaKeyNotice) -> etree._Element:
    return new_element("media_key", id=str(notice.id), epoch=str(notice.epoch), key=notice.key)


def encode(body: Body) -> etree._Element | None:
    return media_key_element(body) if isinstance(body, MediaKeyNotice) else None


DECODERS: Decoders = {
    (INTERPHONE, NOTIFICATION, "media_key"): decode_media_key,
}
KINDS: Kinds = {
    MediaKeyNotice: (NOTIFICATION,),
}
