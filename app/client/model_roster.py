"""The roster side of :class:`~app.client.model.ClientModel`: the login response's (or
extension ``roster``'s notice's) groups, discussions and contacts, our own display name,
and what leaves the roster when the server says we may no longer see it.

A mixin over the model's state (the attributes and methods declared below).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace

from app.client.events import InterphoneEnded, ModelEvent, RosterChanged
from app.protocol import InterphoneId, InterphoneInfo, RosterEntry
from app.protocol.ids import AttachType
from app.protocol.messages import RosterNotice

_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
"""Embeddings, overrides and isolates: in a name they turn the text around them (the
rest of a label: "Dave" then U+202E, then " is speaking", shows as "Dave gnikaeps si"),
or make one name look like another."""
_LINE_BREAKS = re.compile("[\t\n\r\u2028\u2029]")


def display_text(name: str) -> str:
    """A display name from the server as one line of text that keeps to itself: bidi
    controls removed, tabs and line breaks made spaces (the natural direction of
    right-to-left scripts needs neither)."""
    return _LINE_BREAKS.sub(" ", _BIDI_CONTROLS.sub("", name))


class RosterModel:
    """Who and what we may see, from the server's directory."""

    _roster: tuple[RosterEntry, ...]
    _roster_ids: frozenset[InterphoneId]
    _contact_ids: frozenset[str]
    _name: str
    _roster_told: bool
    _interphones: dict[InterphoneId, InterphoneInfo]
    _joined_set: dict[InterphoneId, None]
    _unsolicited: set[InterphoneId]
    _emit: Callable[[ModelEvent], None]
    _batch: Callable[[], AbstractContextManager[None]]

    def _removed(self, interphone: InterphoneId) -> None:
        """A joined interphone we were removed from (the model's own rule)."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        """Our own display name, from the server's directory ('' when it gave none: a
        server without extension ``roster``, or no name in its directory)."""
        return self._name

    @property
    def roster(self) -> tuple[RosterEntry, ...]:
        """Groups, discussions and contacts from the login response, in server order."""
        return self._roster

    @property
    def groups(self) -> tuple[RosterEntry, ...]:
        return tuple(e for e in self._roster if e.kind == "group")

    @property
    def discussions(self) -> tuple[RosterEntry, ...]:
        return tuple(e for e in self._roster if e.kind == "discuss")

    @property
    def contacts(self) -> tuple[RosterEntry, ...]:
        return tuple(e for e in self._roster if e.kind == "contact")

    def roster_ids(self) -> tuple[InterphoneId, ...]:
        """The interphone ids of every roster group and discussion (what ``sync()`` lists)."""
        ids = []
        for entry in self._roster:
            if entry.kind == "group":
                ids.append(InterphoneId.group(entry.id))
            elif entry.kind == "discuss":
                ids.append(InterphoneId.discuss(entry.id))
        return tuple(ids)

    def apply_roster(self, notice: RosterNotice) -> None:
        """Extension ``roster``: the server's directory changed our roster or our name; a
        group or discussion it no longer lists is gone from ours (joined: the server
        removed us from it too, and says so in its own notification)."""
        with self._batch():
            self._set_roster(notice.roster, notice.name)

    def forget_unavailable(self, interphone: InterphoneId) -> None:
        """The server refused a group or discussion of the roster with 403 (we may no
        longer see it: its directory was reloaded without us in it): it leaves the
        roster, and if joined it is left as at a removal. Other interphones: no change."""
        with self._batch():
            if interphone in self._joined_set:
                self._removed(interphone)
            self._drop_from_roster(interphone)

    def _removed_from_roster(self, interphone: InterphoneId) -> None:
        """What a removal from the joined ``interphone`` does to the roster. Without
        extension ``roster`` it leaves the roster (we may no longer see it). With it the
        roster is the server's notices' alone: on several nodes the ``<roster>`` notice
        of the same reload may come before or after the removal, or a later reload's may
        list it again before an earlier removal arrives, so the removal leaves the
        roster as the last notice said, and what we knew of a group or discussion it no
        longer lists goes. The final state is then the same in any order."""
        if not self._roster_told:
            self._drop_from_roster(interphone)
        elif (interphone.kind in (AttachType.GROUP, AttachType.DISCUSS)
              and interphone not in self._roster_ids):
            self._forget_live(interphone)

    def _set_roster(self, roster: tuple[RosterEntry, ...], name: str) -> None:
        roster = tuple(entry if display_text(entry.name) == entry.name
                       else replace(entry, name=display_text(entry.name)) for entry in roster)
        name = display_text(name)
        if roster == self._roster and name == self._name:
            return
        gone = self._roster_ids
        self._roster, self._name = roster, name
        self._roster_ids = frozenset(self.roster_ids())
        self._contact_ids = frozenset(e.id for e in roster if e.kind == "contact")
        self._emit(RosterChanged(roster))
        for interphone in gone - self._roster_ids:
            self._forget_live(interphone)

    def _drop_from_roster(self, interphone: InterphoneId) -> None:
        """A group or discussion we may no longer see leaves the roster (kept by the
        server's next login response or roster notice if it comes back)."""
        kind = {AttachType.GROUP: "group", AttachType.DISCUSS: "discuss"}.get(interphone.kind)
        if kind is None:
            return
        kept = tuple(e for e in self._roster if (e.kind, e.id) != (kind, interphone.key))
        if kept != self._roster:
            self._set_roster(kept, self._name)
        self._forget_live(interphone)

    def _forget_live(self, interphone: InterphoneId) -> None:
        """What we knew of ``interphone`` goes: the server tells us nothing more of it."""
        if interphone not in self._joined_set and interphone in self._interphones:
            del self._interphones[interphone]
            self._unsolicited.discard(interphone)
            self._emit(InterphoneEnded(interphone))
