"""The XML mapping of :mod:`app.protocol.messages` (the only package that imports lxml).

:func:`decode_message` and :func:`encode_message` are the entry the rest of the
code uses. Behind them, one module per job:

- :mod:`~app.protocol.xmlcodec.document`: the hardened parser and the checked
  ``<message>`` envelope;
- :mod:`~app.protocol.xmlcodec.attributes`: attribute values read, checked and written;
- :mod:`~app.protocol.xmlcodec.base`: the base contract's bodies (PROTOCOL.md);
- :mod:`~app.protocol.xmlcodec.media_auth`, :mod:`~app.protocol.xmlcodec.floor`,
  :mod:`~app.protocol.xmlcodec.presence`, :mod:`~app.protocol.xmlcodec.quality`,
  :mod:`~app.protocol.xmlcodec.roster`, :mod:`~app.protocol.xmlcodec.health`: the
  extensions' own bodies (docs/protocol-extensions.md).

Every decoding failure is a :class:`ProtocolError` carrying the errcode to
answer with and, once the envelope was readable, the request's ``seq`` and
``module`` so the answer can go in the request's own envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from lxml import etree

from app.protocol.errors import ProtocolError
from app.protocol.messages import (
    Body,
    ErrorReply,
    LoginResult,
    Message,
    MessageKind,
    RosterNotice,
    module_of,
)
from app.protocol.presence import PresenceSyncResult
from app.protocol.xmlcodec import base, floor, health, media_auth, presence, quality, roster
from app.protocol.xmlcodec.attributes import tag
from app.protocol.xmlcodec.document import (
    Decoders,
    Envelope,
    Kinds,
    parse_document,
    read_envelope,
)

__all__ = ["decode_message", "encode_message"]

_MAPPINGS = (base, media_auth, floor, presence, quality, roster, health)
_DECODERS: Decoders = {key: decoder for mapping in _MAPPINGS
                       for key, decoder in mapping.DECODERS.items()}
_KINDS_OF: Kinds = {
    body_type: kinds for mapping in _MAPPINGS for body_type, kinds in mapping.KINDS.items()}
"""Which envelope each body belongs in: the encoder refuses any other pairing."""
_ENCODER_OF: dict[type, Callable[[Body], etree._Element | None]] = {
    body_type: mapping.encode for mapping in _MAPPINGS for body_type in mapping.KINDS}


# ---- decoding ----------------------------------------------------------------------------


def decode_message(data: bytes) -> Message:
    """Parse one frame's payload into a :class:`Message` or raise :class:`ProtocolError`.

    Three steps: :func:`~app.protocol.xmlcodec.document.parse_document` (bytes to a
    safe element tree), :func:`~app.protocol.xmlcodec.document.read_envelope` (the
    ``<message>`` attributes and its one child), :func:`_decode_body` (the child, by
    module, kind and tag).
    """
    envelope = read_envelope(parse_document(bytes(data)))
    return Message(envelope.kind, _decode_body(envelope), envelope.seq or None, envelope.module)


def _decode_body(envelope: Envelope) -> Body:
    child, kind = envelope.child, envelope.kind
    try:
        if kind is MessageKind.RESPONSE and (child.get("errcode") or "").strip():
            return base.decode_error(child)
        decoder = _DECODERS.get((envelope.module, kind, tag(child)))
        if decoder is None:
            raise ProtocolError(
                f"unknown {kind.value} <{tag(child)}> in module {envelope.module!r}")
        return decoder(child)
    except ProtocolError as exc:
        raise envelope.context.error(exc.errmsg, exc.errcode) from None


# ---- encoding ----------------------------------------------------------------------------


def encode_message(message: Message) -> bytes:
    """Serialize a :class:`Message` to a UTF-8 XML document (no declaration).

    A body in an envelope it does not belong in (a :class:`LoginResult` sent as a
    request, a :class:`JoinRequest` in ``MID_SESSION``) is the caller's mistake:
    :class:`ValueError`, as the peer would misread it.
    """
    _check_pairing(message)
    body = message.body
    if isinstance(body, LoginResult | RosterNotice) and len(body.roster) >= SPLICED_ROSTER:
        return _encode_spliced(message, body)
    if isinstance(body, PresenceSyncResult) and len(body.contacts) >= SPLICED_ROSTER:
        return _encode_spliced_sync(message, body)
    root = etree.Element("message")
    root.set("type", message.kind.value)
    if message.seq is not None:
        root.set("seq", message.seq)
    root.set("module", message.module)
    root.append(_encode_body(message.body, message.kind))
    return etree.tostring(root, encoding="utf-8")


SPLICED_ROSTER = 16
"""A login response or roster notice with this many roster entries or more is encoded
without its entries, which are then spliced in as bytes (:func:`_encode_spliced`)."""

_EMPTY_END = b"/></message>"


def _encode_spliced(message: Message, body: LoginResult | RosterNotice) -> bytes:
    """The bytes lxml would make of ``message``, whose body's only children are its roster
    entries: the message without them, its body's element opened instead of closed, and
    each entry's XML (made once per entry, :func:`~app.protocol.xmlcodec.base.roster_xml`)
    one after the other. A reload tells hundreds of sessions a roster of a thousand
    contacts: building and serializing the tree took about 2 ms a session on the loop."""
    empty = encode_message(replace(message, body=replace(body, roster=())))
    if not empty.endswith(_EMPTY_END):
        raise ValueError(f"unexpected encoding of an empty {type(body).__name__}")
    tail = b"</roster></message>" if isinstance(body, RosterNotice) else b"</login></message>"
    return b"".join((empty[:-len(_EMPTY_END)], b">", base.roster_xml(body.roster), tail))


def _encode_spliced_sync(message: Message, body: PresenceSyncResult) -> bytes:
    """The bytes lxml would make of a presence sync's answer of many contacts: the answer
    without them, then each contact's XML (made once per contact and status) spliced in.
    Every client asks for it after a reload's roster notice: parsing a thousand contacts
    into a tree and serializing it again took 2-4 ms a session on the loop."""
    empty = encode_message(replace(message, body=PresenceSyncResult(())))
    if not empty.endswith(_EMPTY_END):
        raise ValueError("unexpected encoding of an empty presence sync")
    return b"".join((empty[:-len(_EMPTY_END)], b">", presence.contacts_xml(body.contacts),
                     b"</presence></message>"))


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


def _encode_body(body: Body, kind: MessageKind) -> etree._Element:
    element = _ENCODER_OF[type(body)](body)
    if element is None:
        raise TypeError(f"cannot encode {type(body).__name__} as a {kind.value}")
    return element
