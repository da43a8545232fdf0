"""What a node says while its shared store is out of reach: one warning when it goes, one
more per other kind of error meanwhile (a refused password or command is not a network
fault), and when it answers again how many client requests were refused in between."""

from __future__ import annotations

import logging

from app.server.replica import Replica

log = logging.getLogger("app.server.redis_store")  # (the store's lines, as operators know them)


class StoreOutage:
    def __init__(self, url: str) -> None:
        self.url = url  # the store's address, without its password
        self._kinds: set[str] = set()  # kinds of errors warned of while the store is away
        self._refused_before = 0  # the replica's refusals when the store went away

    def set_available(self, replica: Replica, available: bool,
                      why: BaseException | None = None) -> bool:
        """The store answers again, or not (``why``: the error, said in the warning);
        sets ``replica.available``. True when the store has just gone away."""
        if available:
            if not replica.available:
                replica.available = True
                self._kinds = set()
                log.info("store reachable again: accepting changes (%d request(s) of clients "
                         "refused meanwhile)", replica.refused - self._refused_before)
            return False
        kind = type(why).__name__ if why is not None else ""
        if not replica.available and kind in self._kinds:
            return False
        reason = f": {why}" if why is not None else ""
        self._kinds.add(kind)
        if replica.available:
            replica.available = False
            self._refused_before = replica.refused
            log.warning("store unreachable (%s%s): refusing changes until it is back",
                        self.url, reason)
            return True
        log.warning("store still unreachable (%s%s)", self.url, reason)
        return False
