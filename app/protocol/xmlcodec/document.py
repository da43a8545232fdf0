"""The first two steps of decoding: bytes to a safe element tree, then the checked envelope.

One hardened parser: no DTD, no entity resolution, no network, bounded input.
Every failure is a :class:`ProtocolError` carrying the errcode to answer with
and, once the envelope was readable, the request's ``seq`` and ``module`` so the
answer can go in the request's own envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from app.protocol.errors import ErrCode, MalformedFrame, ProtocolError
from app.protocol.limits import MAX_FRAME, MAX_SEQ_LEN
from app.protocol.messages import Body, MessageKind, Module
from app.protocol.xmlcodec.attributes import attr, peek, tag

PARSER = etree.XMLParser(
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
_MODULES = frozenset(module.value for module in Module)

SESSION, INTERPHONE = Module.SESSION.value, Module.INTERPHONE.value
REQUEST, RESPONSE = MessageKind.REQUEST, MessageKind.RESPONSE
NOTIFICATION = MessageKind.NOTIFICATION

Decoders = dict[tuple[str | None, MessageKind, str | None], Callable[[etree._Element], Body]]
"""The decoder of each body, by the envelope's module and kind and the child's tag."""
Kinds = dict[type, tuple[MessageKind, ...]]
"""The envelope kinds each body type may be sent in (the encoder refuses any other)."""


def parse_document(data: bytes) -> etree._Element:
    """The ``<message>`` root of ``data``, parsed with every dangerous feature off."""
    if len(data) > MAX_FRAME:
        raise MalformedFrame(f"document of {len(data)} bytes exceeds {MAX_FRAME}",
                             ErrCode.TOO_LARGE)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedFrame(f"document is not UTF-8 (byte {exc.start})") from None
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise MalformedFrame("DTDs and entity declarations are not allowed")
    try:
        root = etree.fromstring(data, PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise MalformedFrame(f"malformed XML: {_first_line(exc)}") from None
    if root.tag != "message":
        raise MalformedFrame(f"root element is <{tag(root)}>, not <message>")
    return root


@dataclass(frozen=True, slots=True)
class Known:
    """What is known of a request's envelope, so that an error can be answered in it."""

    seq: str | None
    module: str | None
    tag: str | None
    type: str | None
    id: str | None
    kind: str | None = None

    def error(self, errmsg: str, errcode: ErrCode = ErrCode.BAD_REQUEST) -> ProtocolError:
        return ProtocolError(errmsg, errcode, seq=self.seq, module=self.module, tag=self.tag,
                             type=self.type, id=self.id, kind=self.kind)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A checked ``<message>``: its kind, seq, module and the one child element.

    ``context`` is what is known of the request for answering an error in its
    own envelope (see :class:`ProtocolError`)."""

    kind: MessageKind
    seq: str | None
    module: str
    child: etree._Element
    context: Known


def read_envelope(root: etree._Element) -> Envelope:
    seq = root.get("seq")
    seq = seq.strip() if seq is not None else None
    module = peek(root, "module")
    children = [child for child in root if isinstance(child.tag, str)]
    child = children[0] if len(children) == 1 else None
    # What is known of the envelope, so that any error below can be answered in it.
    # Over-long values are left out here and reported by the checks that follow.
    context = Known(
        seq=seq if seq and len(seq) <= MAX_SEQ_LEN else None,
        module=module,
        tag=tag(child) if child is not None else None,
        type=peek(child, "type") if child is not None else None,
        id=peek(child, "id") if child is not None else None,
        kind=peek(root, "type"),
    )
    try:
        kind_text = attr(root, "type")
        if module is None:
            attr(root, "module")  # raises for an over-long value
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
    if module is None:
        raise context.error("missing module attribute")
    if module not in _MODULES:
        raise context.error(f"unknown module {module!r}")
    if _has_text(root):
        raise context.error("text content in <message>")
    return Envelope(kind, seq, module, child, context)


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


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
