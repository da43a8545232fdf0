"""Attribute values of the XML mapping: read and checked on the way in, written on the way out.

Every reader raises :class:`ProtocolError` (400, or 413 for an over-long value)
without an envelope; :func:`app.protocol.xmlcodec.decode_message` adds the
request's envelope to it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from lxml import etree

from app.protocol.errors import ErrCode, ProtocolError
from app.protocol.ids import InterphoneId, is_valid_name
from app.protocol.limits import MAX_TEXT_ATTR
from app.protocol.xmlchars import xml_safe

_DECIMAL_MAX = 100000.0
_E = TypeVar("_E", bound=StrEnum)


# ---- reading -----------------------------------------------------------------------------


def tag(element: etree._Element) -> str:
    return element.tag if isinstance(element.tag, str) else "?"


def is_decimal(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts '²' and '٣')."""
    return text.isascii() and text.isdigit()


def peek(element: etree._Element, name: str) -> str | None:
    """:func:`attr` without the length check: None for a missing or over-long value."""
    value = element.get(name)
    if value is None or len(value) > MAX_TEXT_ATTR:
        return None
    return value.strip()


def attr(element: etree._Element, name: str) -> str | None:
    value = element.get(name)
    if value is None:
        return None
    if len(value) > MAX_TEXT_ATTR:
        raise ProtocolError(f"attribute {name!r} too long", ErrCode.TOO_LARGE)
    return value.strip()


def required(element: etree._Element, name: str) -> str:
    value = attr(element, name)
    if not value:
        raise ProtocolError(f"<{tag(element)}> needs a non-empty {name!r}")
    return value


def name_attr(element: etree._Element, name: str) -> str:
    value = required(element, name)
    if not is_valid_name(value):
        raise ProtocolError(f"bad {name} {value!r} in <{tag(element)}>")
    return value


def optional_name(element: etree._Element, name: str) -> str:
    value = attr(element, name) or ""
    if value and not is_valid_name(value):
        raise ProtocolError(f"bad {name} {value!r} in <{tag(element)}>")
    return value


def int_attr(element: etree._Element, name: str, *, default: int | None = None) -> int:
    value = attr(element, name)
    if not value:
        if default is None:
            raise ProtocolError(f"<{tag(element)}> needs {name!r}")
        return default
    if not is_decimal(value) or len(value) > 10 or int(value) > 0xFFFFFFFF:
        raise ProtocolError(f"{name}={value!r} is not an unsigned integer")
    return int(value)


def port_attr(element: etree._Element, name: str) -> int:
    port = int_attr(element, name)
    if not 0 < port < 65536:
        raise ProtocolError(f"{name}={port} is not a port number")
    return port


def bool_attr(element: etree._Element, name: str) -> bool:
    """An extension's boolean: '1' true, '0' or absent false, anything else 400 (413 when
    over-long)."""
    value, error = flag_attr(element, name)
    if error is not None:
        raise error
    return value


def flag_attr(element: etree._Element, name: str) -> tuple[bool, ProtocolError | None]:
    """An extension's boolean read leniently: the value as :func:`bool_attr` reads it
    (false when it is neither '0' nor '1') and the error :func:`bool_attr` would raise
    (None when there is none), for a receiver that decides later whether the attribute
    counts: for a session not granted its extension it is unknown, whatever its length."""
    value = element.get(name)
    if value is not None and len(value) > MAX_TEXT_ATTR:
        return False, ProtocolError(f"attribute {name!r} too long", ErrCode.TOO_LARGE)
    value = value.strip() if value is not None else None
    if value in (None, "", "0"):
        return False, None
    if value == "1":
        return True, None
    return False, ProtocolError(f"{name}={value!r} is not '0' or '1'")


def decimal_attr(element: etree._Element, name: str, *, limit: float = _DECIMAL_MAX,
                 default: float | None = None) -> float:
    """A non-negative decimal ``[0-9]{1,6}(.[0-9]{1,3})?`` no greater than ``limit``."""
    value = attr(element, name)
    if not value:
        if default is None:
            raise ProtocolError(f"<{tag(element)}> needs {name!r}")
        return default
    whole, dot, fraction = value.partition(".")
    if (not is_decimal(whole) or len(whole) > 6
            or (dot and (not is_decimal(fraction) or len(fraction) > 3))):
        raise ProtocolError(f"{name}={value!r} is not a decimal number")
    number = float(value)
    if number > limit:
        raise ProtocolError(f"{name}={value!r} is over {limit:g}")
    return number


def enum_attr(element: etree._Element, name: str, kind: type[_E]) -> _E:
    value = attr(element, name)
    try:
        return kind(value or "")
    except ValueError:
        raise ProtocolError(f"<{tag(element)}> {name}={value!r} is unknown") from None


def interphone_id(element: etree._Element) -> InterphoneId:
    return InterphoneId.parse(required(element, "id"))


def type_is(element: etree._Element, expected: str) -> None:
    if attr(element, "type") != expected:
        raise ProtocolError(f"<{tag(element)}> needs type={expected!r}")


def children(
    element: etree._Element, child_tag: str, limit: int, errcode: ErrCode = ErrCode.TOO_LARGE
) -> list[etree._Element]:
    found = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag != child_tag:
            raise ProtocolError(f"unexpected <{tag(child)}> in <{tag(element)}>")
        found.append(child)
        if len(found) > limit:
            raise ProtocolError(f"more than {limit} <{child_tag}> elements in <{tag(element)}>",
                                errcode)
    return found


# ---- writing -----------------------------------------------------------------------------


def new_element(element_tag: str, **attrs: str | None) -> etree._Element:
    """A new element with the attributes that are not None."""
    new = etree.Element(element_tag)
    for name, value in attrs.items():
        if value is not None:
            new.set(name, value)
    return new


def safe_text(value: str) -> str:
    """Free text (names, errmsg, reason): characters XML cannot carry become U+FFFD."""
    return xml_safe(value)


def format_decimal(value: float) -> str:
    """At most 2 decimals, no exponent, no trailing zeros (``4.8``, ``0``, ``12.25``)."""
    formatted = f"{max(0.0, value):.2f}".rstrip("0").rstrip(".")
    return formatted or "0"
