"""Login ``features`` negotiation (PROTOCOL.md section 6, docs/protocol-extensions.md).

A login request may name the extensions the client wants in its ``features``
attribute; the response names those the server grants. A name is 1..32 of
``a-z 0-9 -`` starting with a letter or digit. A session that asks for none,
or is granted none, sees exactly the base contract: the response then has no
``features`` attribute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MEDIA_AUTH = "media-auth"
COALESCE = "coalesce"
ROSTER = "roster"
HEALTH = "health"
FLOOR_QUEUE, PRIORITY, EMERGENCY = "floor-queue", "priority", "emergency"
FLOOR_FEATURES: frozenset[str] = frozenset({FLOOR_QUEUE, PRIORITY, EMERGENCY})
"""The three floor extensions (docs/protocol-extensions.md): a holder that negotiated any
of them is told why its grant was revoked."""

KNOWN_FEATURES: frozenset[str] = (frozenset({"presence", COALESCE, "feedback", MEDIA_AUTH, ROSTER,
                                             HEALTH})
                                  | FLOOR_FEATURES)
"""Every extension this implementation can grant. Each one added here is specified in
docs/protocol-extensions.md; a server grants a requested name only if it is listed."""

_FEATURE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_XML_WHITESPACE = re.compile(r"[ \t\r\n]+")
"""The separators of a ``features`` list: not ``str.split()``'s Unicode whitespace, so
``floor-queue\u3000presence`` (an ideographic space) is one token, not a feature name."""


def is_feature_name(text: str) -> bool:
    return _FEATURE_NAME.fullmatch(text) is not None


def parse_features(text: str | None) -> tuple[str, ...]:
    """The names in a ``features`` attribute, in order, each once.

    Split on XML whitespace; a token that is not a feature name is ignored
    (no server could know it), so an odd value is never an error.
    """
    if not text:
        return ()
    return tuple(dict.fromkeys(t for t in _XML_WHITESPACE.split(text) if is_feature_name(t)))


def format_features(names: Iterable[str]) -> str | None:
    """The ``features`` attribute for ``names`` (None: leave it out).

    Raises :class:`ValueError` for a name outside the grammar: the caller's mistake.
    """
    names = tuple(dict.fromkeys(names))
    for name in names:
        if not is_feature_name(name):
            raise ValueError(f"{name!r} is not a feature name")
    return " ".join(names) if names else None


def grant_features(requested: Iterable[str], offered: frozenset[str]) -> tuple[str, ...]:
    """What a server grants: the requested names it offers, each once, sorted."""
    return tuple(sorted({name for name in requested if name in offered}))
