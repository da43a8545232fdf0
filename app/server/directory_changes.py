"""What changed between two directories: the summary a reload logs and acts on.

:meth:`DirectoryChanges.between` compares users (added, removed, token changed),
groups and discussions (added, removed, members or name changed) and the
``[server]`` settings. :meth:`DirectoryChanges.describe` is the one log line of
a reload: counts and names, never a token or a token hash.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from app.server.directory import Circle, Directory
from app.server.settings import ServerSettings


def _circle_changes(old: dict[str, Circle], new: dict[str, Circle]
                    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    added = tuple(key for key in new if key not in old)
    removed = tuple(key for key in old if key not in new)
    changed = tuple(key for key in new if key in old and new[key] != old[key])
    return added, removed, changed


def _names(label: str, names: tuple[str, ...], sign: str = "") -> str:
    return f"{label} {sign}{len(names)} ({', '.join(names)})"


@dataclass(frozen=True, slots=True)
class DirectoryChanges:
    users_added: tuple[str, ...] = ()
    users_removed: tuple[str, ...] = ()
    tokens_changed: tuple[str, ...] = ()
    """Users whose ``token`` or ``token_hash`` changed (applies at their next login)."""
    names_changed: tuple[str, ...] = ()
    groups_added: tuple[str, ...] = ()
    groups_removed: tuple[str, ...] = ()
    groups_changed: tuple[str, ...] = ()
    discussions_added: tuple[str, ...] = ()
    discussions_removed: tuple[str, ...] = ()
    discussions_changed: tuple[str, ...] = ()
    settings_changed: tuple[str, ...] = ()
    """``[server]`` settings that differ: they apply at the next start, not at a reload."""

    @classmethod
    def between(cls, old: Directory, new: Directory,
                running: ServerSettings | None = None) -> DirectoryChanges:
        """``running``: the settings the server runs with, which a reload does not change;
        the file's are compared with those (else with ``old``'s), so that a file put back
        as it was at the start is no change, not "kept until the next start"."""
        users_added = tuple(uid for uid in new.users if uid not in old.users)
        users_removed = tuple(uid for uid in old.users if uid not in new.users)
        kept = [uid for uid in new.users if uid in old.users]
        tokens_changed = tuple(
            uid for uid in kept
            if (old.users[uid].token, old.users[uid].token_hash)
            != (new.users[uid].token, new.users[uid].token_hash))
        names_changed = tuple(uid for uid in kept if old.users[uid].name != new.users[uid].name)
        groups = _circle_changes(old.groups, new.groups)
        discussions = _circle_changes(old.discussions, new.discussions)
        base = running if running is not None else old.settings
        settings_changed = tuple(
            item.name for item in fields(base)
            if getattr(base, item.name) != getattr(new.settings, item.name))
        return cls(users_added, users_removed, tokens_changed, names_changed, *groups,
                   *discussions, settings_changed)

    def __bool__(self) -> bool:
        return any(getattr(self, item.name) for item in fields(self))

    def describe(self) -> str:
        """One line: what changed, with counts and names (uids, ids, setting names)."""
        parts: list[str] = []
        for label, added, removed in (
            ("users", self.users_added, self.users_removed),
            ("groups", self.groups_added, self.groups_removed),
            ("discussions", self.discussions_added, self.discussions_removed),
        ):
            if added:
                parts.append(_names(label, added, "+"))
            if removed:
                parts.append(_names(label, removed, "-"))
        for label, names in (
            ("tokens changed", self.tokens_changed),
            ("names changed", self.names_changed),
            ("groups changed", self.groups_changed),
            ("discussions changed", self.discussions_changed),
        ):
            if names:
                parts.append(_names(label, names))
        if self.settings_changed:
            parts.append(_names("[server] settings changed", self.settings_changed)
                         + ": kept until the next start")
        return ", ".join(parts) if parts else "no change"
