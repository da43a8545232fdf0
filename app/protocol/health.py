"""Messages of the ``health`` extension (docs/protocol-extensions.md, "Extension: health").

A session granted ``health`` is told by its node when the node's shared store becomes
unreachable and when it is reachable again (module ``MID_SESSION``, element
``<health>``), instead of learning it from a refused request and probing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StoreState(StrEnum):
    """The ``store`` of a ``<health>`` notice."""

    OK = "ok"  # the node reaches its store: requests go through
    UNREACHABLE = "unreachable"  # refused with 500 "store unavailable..." until ``ok``


@dataclass(frozen=True, slots=True)
class HealthNotice:
    """``<health store='ok|unreachable'/>``: the node's store, as the node sees it now."""

    store: StoreState

    @property
    def degraded(self) -> bool:
        return self.store is not StoreState.OK
