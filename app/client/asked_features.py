"""The login ``features`` the product's clients ask for by default.

The desktop app and ``interphone-cli`` ask for the extensions they handle
(docs/protocol-extensions.md), ``coalesce`` included: a crowd joining an
interphone then costs each of them a few notifications with the latest state
instead of one per join (the client model keeps only the latest state of an
interphone anyway). :class:`~app.client.InterphoneClient` itself asks for
nothing unless told: a library user gets the base contract.
"""

from __future__ import annotations

from app.protocol.features import COALESCE, FLOOR_FEATURES, HEALTH, MEDIA_AUTH, ROSTER
from app.protocol.presence import PRESENCE

FEEDBACK = "feedback"


def asked_features(*, tls: bool, presence: bool = False,
                   feedback: bool = True) -> tuple[str, ...]:
    """What a product client asks at login: ``coalesce``, the floor extensions and
    ``roster`` (its own name, the roster kept after a directory reload) and ``health``
    (the server's store unreachable, told without a request refused first) always,
    ``media-auth`` over TLS (its keys travel on the signaling connection), ``presence``
    (the desktop app) and ``feedback`` unless turned off."""
    names = [COALESCE, *sorted(FLOOR_FEATURES), ROSTER, HEALTH]
    if presence:
        names.insert(0, PRESENCE)
    if feedback:
        names.append(FEEDBACK)
    if tls:
        names.append(MEDIA_AUTH)
    return tuple(names)
