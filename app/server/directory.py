"""The directory: users, groups, discussions and server settings, loaded from TOML.

File shape (other keys are ignored, so the file may carry more)::

    [server]
    auth = "token"        # or "open": any uid may log in, any token accepted
    max_talk = 60         # seconds
    keepalive = 15        # seconds
    silence_timeout = 5   # optional, as every ServerSettings field
    queue_limit = 8       # floor extensions (docs/protocol-extensions.md): requests waiting
    queue_timeout = 30    # per interphone, seconds one may wait, and the level from which
    dispatcher_level = 8  # a user is a dispatcher

    [[users]]
    uid = "alice"
    name = "Alice"
    token = "pw-alice"    # a plain token, or instead:
    # token_hash = "pbkdf2_sha256$<iterations>$<salt>$<hex digest>"
    priority = 0          # 0..9 (extension priority), default 0

    [[groups]]
    id = "58"
    name = "Ops"
    members = ["alice", "bob"]   # "*" = every user (in open mode: every uid)
    preemptible = false   # optional: a higher priority pre-empts the holder
    queue_limit = 4       # optional per-interphone overrides of the [server] values
    queue_timeout = 20

    [[discussions]]
    id = "12"
    name = "Night"
    members = ["alice", "bob"]

``token_hash`` is PBKDF2-HMAC-SHA256 of the UTF-8 token with the UTF-8 salt,
the digest in lower-case hex; :func:`hash_token` (or ``interphone-server
--hash-token``) makes one. The check runs on the event loop, so keep the
iteration count modest (the default, 100 000, costs a few tens of ms once per
user: a verified token is remembered while the server runs).

A file that is not valid is refused with a :class:`DirectoryError` naming the
line and the problem.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import logging
import re
import secrets
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.protocol.ids import AttachType, InterphoneId, is_valid_name
from app.protocol.limits import MAX_FRAME, MAX_TEXT_ATTR
from app.protocol.messages import Message, RosterEntry, RosterNotice
from app.protocol.xmlchars import has_non_xml_char
from app.server.floor import MAX_PRIORITY, MIN_PRIORITY, FloorPolicy
from app.server.frame_fit import (
    LOGIN_HEADROOM,
    fitting_contacts,
    roster_entry_size,
    roster_size,
)
from app.server.settings import SETTING_NAMES, ServerSettings, setting_problem

logger = logging.getLogger(__name__)

EVERYONE = "*"
HASH_SCHEME = "pbkdf2_sha256"
DEFAULT_HASH_ITERATIONS = 100_000
_MAX_HASH_ITERATIONS = 10_000_000
_CIRCLE_KEYS = ("id", "name", "members", "preemptible", "queue_limit", "queue_timeout")
_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "users": ("uid", "name", "token", "token_hash", "priority"),
    "groups": _CIRCLE_KEYS,
    "discussions": _CIRCLE_KEYS,
}
"""The arrays of tables of a directory file and the keys of their entries ([server]'s
are the settings)."""


class DirectoryError(ValueError):
    """A directory file that cannot be served; ``line`` is 1-based (0 if unknown)."""

    def __init__(self, problem: str, line: int = 0, source: str = "") -> None:
        where = f"{source or 'config'}" + (f", line {line}" if line else "")
        super().__init__(f"{where}: {problem}")
        self.problem = problem
        self.line = line
        self.source = source


def hash_token(token: str, salt: str | None = None,
               iterations: int = DEFAULT_HASH_ITERATIONS) -> str:
    """The ``token_hash`` form of ``token``."""
    salt = salt if salt is not None else secrets.token_hex(8)
    if "$" in salt:
        raise ValueError("the salt may not contain '$'")
    digest = hashlib.pbkdf2_hmac("sha256", token.encode(), salt.encode(), iterations).hex()
    return f"{HASH_SCHEME}${iterations}${salt}${digest}"


def _parse_hash(text: str) -> tuple[int, str, bytes] | None:
    parts = text.split("$")
    if len(parts) != 4 or parts[0] != HASH_SCHEME:
        return None
    _, iterations, salt, digest = parts
    if not iterations.isdigit() or not 1 <= int(iterations) <= _MAX_HASH_ITERATIONS:
        return None
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        return None
    if len(raw) != 32:
        return None
    return int(iterations), salt, raw


@dataclass(frozen=True, slots=True)
class User:
    uid: str
    name: str
    token: str | None = None
    token_hash: str | None = None
    priority: int = MIN_PRIORITY

    def token_matches(self, token: str) -> bool:
        if self.token is not None:
            return hmac.compare_digest(self.token.encode(), token.encode())
        if self.token_hash is not None:
            parsed = _parse_hash(self.token_hash)
            if parsed is None:
                return False
            iterations, salt, expected = parsed
            actual = hashlib.pbkdf2_hmac("sha256", token.encode(), salt.encode(), iterations)
            return hmac.compare_digest(actual, expected)
        return False


@dataclass(frozen=True, slots=True)
class Circle:
    """A group or a discussion: a named set of uids, or everyone."""

    id: str
    name: str
    members: frozenset[str]
    everyone: bool = False
    preemptible: bool = False
    queue_limit: int | None = None  # None: the [server] value
    queue_timeout: float | None = None

    def includes(self, uid: str) -> bool:
        return self.everyone or uid in self.members


@dataclass(slots=True)
class Directory:
    users: dict[str, User]
    groups: dict[str, Circle]
    discussions: dict[str, Circle]
    settings: ServerSettings = field(default_factory=ServerSettings)
    _verified: dict[str, bytes] = field(default_factory=dict, repr=False)
    _fingerprint: str = field(default="", repr=False, compare=False)
    _rosters: dict[tuple[str, str], tuple[RosterEntry, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _cut_told: bool = field(default=False, init=False, repr=False, compare=False)
    _contacts: tuple[RosterEntry, ...] = field(default=(), init=False, repr=False,
                                               compare=False)
    _contact_index: dict[str, int] = field(default_factory=dict, init=False, repr=False,
                                           compare=False)
    _contacts_size: int = field(default=0, init=False, repr=False, compare=False)
    _served: set[int] = field(default_factory=set, init=False, repr=False, compare=False)
    """The ids of the rosters in ``_rosters`` (alive while there)."""
    _contact_ids: dict[tuple[str, str], frozenset[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    # ---- loading ---------------------------------------------------------------------------

    @classmethod
    def from_toml_file(cls, path: str | Path) -> Directory:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:  # its words only: the path already starts the message
            raise DirectoryError(f"cannot read the file: {exc.strerror or exc}", 0,
                                 str(path)) from None
        except UnicodeDecodeError as exc:
            raise DirectoryError(f"cannot read the file: not UTF-8 text ({exc.reason} at "
                                 f"byte {exc.start})", 0, str(path)) from None
        return cls.from_toml_text(text, source=str(path))

    @classmethod
    def from_toml_text(cls, text: str, source: str = "") -> Directory:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            line = int(match.group(1)) if match else 0
            problem = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            if match:
                problem += f" (column {match.group(2)})"
            raise DirectoryError(f"TOML syntax error: {problem}", line, source) from None
        return _Loader(text, data, source).load()

    @classmethod
    def demo(cls) -> Directory:
        """A built-in directory in open mode, for trying the app out."""
        users = {
            "me": User("me", "Me"),
            "echo": User("echo", "Echo"),
            "alice": User("alice", "Alice"),
            "bob": User("bob", "Bob"),
            "carol": User("carol", "Carol"),
        }
        groups = {
            "1": Circle("1", "Everyone", frozenset(), everyone=True),
            "58": Circle("58", "Ops", frozenset({"me", "alice", "bob", "echo"})),
        }
        discussions = {"12": Circle("12", "Night shift", frozenset({"me", "alice", "carol"}))}
        return cls(users, groups, discussions, ServerSettings(auth="open"))

    def fingerprint(self) -> str:
        """A short digest of what every node of several must serve alike (``auth``, users,
        their tokens, names and priorities, groups and discussions): two nodes whose files differ
        there give different fingerprints. Computed once (the directory does not change:
        a reload makes a new one)."""
        if self._fingerprint:
            return self._fingerprint
        digest = hashlib.sha256(self.settings.auth.encode())
        for user in sorted(self.users.values(), key=lambda u: u.uid):
            digest.update(repr((user.uid, user.name, user.token, user.token_hash,
                                user.priority)).encode())
        for kind, circles in (("g", self.groups), ("d", self.discussions)):
            for circle in sorted(circles.values(), key=lambda c: c.id):
                digest.update(repr((kind, circle.id, circle.name, sorted(circle.members),
                                    circle.everyone, circle.preemptible, circle.queue_limit,
                                    circle.queue_timeout)).encode())
        self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    # ---- queries ---------------------------------------------------------------------------

    def may_log_in(self, uid: str, token: str, auth: str) -> bool:
        if auth == "open":
            return is_valid_name(uid)
        user = self.users.get(uid)
        if user is None:
            return False
        if user.token_hash is not None:
            fingerprint = hashlib.sha256(token.encode()).digest()
            known = self._verified.get(uid)
            if known is not None and hmac.compare_digest(known, fingerprint):
                return True
            if user.token_matches(token):
                self._verified[uid] = fingerprint
                return True
            return False
        return user.token_matches(token)

    def roster(self, uid: str, auth: str) -> tuple[RosterEntry, ...]:
        """The roster served to ``uid``: its groups, its discussions and the other users as
        contacts, as many of those as fit one frame with the rest of a login response
        (:mod:`app.server.frame_fit`; the first cut of a directory is logged). The login
        response, the roster notice and the contacts whose status the user is told are
        this same list. Computed once per uid (the directory does not change)."""
        key = (uid, auth)
        served = self._rosters.get(key)
        if served is not None:
            return served
        circles = [RosterEntry("group", g.id, g.name)
                   for g in self.groups.values() if g.includes(uid)]
        circles += [RosterEntry("discuss", d.id, d.name)
                    for d in self.discussions.values() if d.includes(uid)]
        if not self._contacts:  # every user, made and sized once: each roster is all but one
            self._contacts = tuple(RosterEntry("contact", u.uid, u.name)
                                   for u in self.users.values())
            self._contact_index = {entry.id: n for n, entry in enumerate(self._contacts)}
            self._contacts_size = sum(roster_entry_size(entry) for entry in self._contacts)
        index = self._contact_index.get(uid)
        contacts = self._contacts if index is None \
            else self._contacts[:index] + self._contacts[index + 1:]
        name = self.name_of(uid)

        def build(entries: tuple[RosterEntry, ...]) -> Message:
            return Message.notification(RosterNotice(entries, name))

        budget, count = MAX_FRAME - LOGIN_HEADROOM, len(contacts)
        if contacts:
            first = (*circles, contacts[0])
            size = roster_size(build(first), first) + self._contacts_size \
                - roster_entry_size(contacts[0]) \
                - (roster_entry_size(self._contacts[index]) if index is not None else 0)
            if size > budget:
                count = fitting_contacts(build, tuple(circles), contacts, budget)
        if count < len(contacts) and not self._cut_told:
            self._cut_told = True
            logger.warning("the roster of %s names %d contacts, more than one frame holds: "
                           "it is sent with the first %d (other users' too may be cut)",
                           uid, len(contacts), count)
        served = self._rosters[key] = tuple(circles) + contacts[:count]
        self._served.add(id(served))
        return served

    def contact_ids(self, uid: str, auth: str) -> frozenset[str]:
        """The uids of the contacts in ``uid``'s :meth:`roster` (whose status it is told,
        extension presence). Computed once per uid."""
        key = (uid, auth)
        ids = self._contact_ids.get(key)
        if ids is None:
            ids = self._contact_ids[key] = frozenset(
                e.id for e in self.roster(uid, auth) if e.kind == "contact")
        return ids

    def prepare(self, uids: Iterable[str], auth: str) -> None:
        """Compute now what serving this directory to the sessions of ``uids`` asks for (its
        :meth:`fingerprint`, their rosters and contacts): a reload does it in a thread,
        before the directory is served, so that the event loop finds them made. Only
        before it is served: the caches are not shared with the loop's thread then."""
        self.fingerprint()
        for uid in uids:
            self.contact_ids(uid, auth)

    def serves(self, roster: tuple[RosterEntry, ...]) -> bool:
        """``roster`` is one this directory made (:meth:`roster`): it fits one frame with
        the rest of a login response, no need to measure it again."""
        return id(roster) in self._served

    def name_of(self, uid: str) -> str:
        """The display name of ``uid`` ('' for a uid not in the directory)."""
        user = self.users.get(uid)
        return user.name if user is not None else ""

    def priority_of(self, uid: str) -> int:
        """The directory level of ``uid`` (0 for a uid not in the directory)."""
        user = self.users.get(uid)
        return user.priority if user is not None else MIN_PRIORITY

    def floor_policy(self, interphone: InterphoneId, settings: ServerSettings) -> FloorPolicy:
        """The floor settings of ``interphone``: its circle's overrides of ``settings``;
        chats use the [server] values and are never preemptible."""
        circle: Circle | None = None
        if interphone.kind is AttachType.GROUP:
            circle = self.groups.get(interphone.key)
        elif interphone.kind is AttachType.DISCUSS:
            circle = self.discussions.get(interphone.key)
        limit, timeout, preemptible = settings.queue_limit, settings.queue_timeout, False
        if circle is not None:
            preemptible = circle.preemptible
            if circle.queue_limit is not None:
                limit = circle.queue_limit
            if circle.queue_timeout is not None:
                timeout = circle.queue_timeout
        return FloorPolicy(queue_limit=limit, queue_timeout=timeout, preemptible=preemptible,
                           dispatcher_level=settings.dispatcher_level)

    def may_see(self, uid: str, interphone: InterphoneId, auth: str) -> bool:
        """May ``uid`` join, sync or watch ``interphone``?"""
        if interphone.kind is AttachType.GROUP:
            circle = self.groups.get(interphone.key)
        elif interphone.kind is AttachType.DISCUSS:
            circle = self.discussions.get(interphone.key)
        else:
            if not interphone.involves(uid):
                return False
            if auth == "open":
                return True
            return all(party in self.users for party in interphone.parties)
        return circle is not None and circle.includes(uid)




class _Loader:
    """Validates parsed TOML and finds the line of each problem in the raw text."""

    def __init__(self, text: str, data: dict[str, Any], source: str) -> None:
        self.lines = text.splitlines()
        self.data = data
        self.source = source

    def fail(self, problem: str, table: str, index: int | None = None,
             key: str | None = None, value: str | None = None) -> DirectoryError:
        return DirectoryError(problem, self.line_of(table, index, key, value), self.source)

    def line_of(self, table: str, index: int | None, key: str | None,
                value: str | None) -> int:
        """Best-effort line of ``key`` (and ``value`` inside it) in ``[table]``/``[[table]]``."""
        header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
        start, seen = 0, -1
        for number, raw in enumerate(self.lines, 1):
            match = header.match(raw)
            if not match:
                continue
            if start:
                end = number
                break
            name = match.group(1).strip().strip('"')
            if name == table:
                seen += 1
                if index is None or seen == index:
                    start = number
        else:
            end = len(self.lines) + 1
        if not start:
            return self._key_anywhere(table) or 0
        if key is None:
            return start
        key_re = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start + 1, end):
            if key_re.match(self.lines[number - 1]):
                if value is None:
                    return number
                quoted = re.compile(rf"[\"']{re.escape(value)}[\"']")
                for later in range(number, end):
                    if quoted.search(self.lines[later - 1]):
                        return later
                return number
        return start

    def _key_anywhere(self, key: str) -> int:
        key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for number, raw in enumerate(self.lines, 1):
            if key_re.match(raw):
                return number
        return 0

    # ---- sections --------------------------------------------------------------------------

    def load(self) -> Directory:
        for table in self.data:
            if table not in _TABLE_KEYS and table != "server":
                self._warn_unknown(table, None, None, [*_TABLE_KEYS, "server"])
        for table, known in _TABLE_KEYS.items():
            entries = self.data.get(table)
            if isinstance(entries, list):
                for index, entry in enumerate(entries):
                    for key in entry if isinstance(entry, dict) else ():
                        if key not in known:
                            self._warn_unknown(table, index, key, known)
        settings = self.load_settings()
        users = self.load_users()
        self._warn_tokenless_users(users, settings)
        groups = self.load_circles("groups", users)
        discussions = self.load_circles("discussions", users)
        return Directory(users, groups, discussions, settings)

    def load_settings(self) -> ServerSettings:
        server = self.data.get("server", {})
        if not isinstance(server, dict):
            raise self.fail("[server] must be a table", "server")
        values: dict[str, Any] = {}
        for key, value in server.items():
            if key not in SETTING_NAMES:  # accepted (a newer version's), but said: a typo
                self._warn_unknown_setting(key)  # must not pass for the setting it meant
                continue
            problem = setting_problem(key, value)
            if problem is not None:
                raise self.fail(problem, "server", None, key)
            values[key] = value
        values.setdefault("auth", "token")
        return ServerSettings(**values)

    def _warn_unknown_setting(self, key: str) -> None:
        close = difflib.get_close_matches(key, sorted(SETTING_NAMES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        line = self.line_of("server", None, key, None)
        where = f"{self.source or 'directory'}, line {line}" if line else \
            (self.source or "directory")
        logger.warning("%s: unknown setting %r in [server] is ignored%s", where, key, hint)

    def _warn_unknown(self, table: str, index: int | None, key: str | None,
                      known: Iterable[str]) -> None:
        """A table (``key`` None) or a key of a ``[[table]]`` entry this version does not
        know: ignored, but said, with the line and the name it was likely meant to be (a
        group's ``member = [...]`` would otherwise leave it without members, silently)."""
        name = table if key is None else key
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        line = self.line_of(table, index, key, None)
        where = f"{self.source or 'directory'}, line {line}" if line else \
            (self.source or "directory")
        if key is None:
            what = f"table [[{table}]]" if isinstance(self.data[table], list) else \
                f"table [{table}]"
        else:
            what = f"key {key!r} in [[{table}]]"
        logger.warning("%s: unknown %s is ignored%s", where, what, hint)

    def _entries(self, table: str) -> list[dict[str, Any]]:
        entries = self.data.get(table, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self.fail(f"{table} must be an array of tables ([[{table}]])", table)
        return entries

    def _text(self, entry: dict[str, Any], table: str, index: int, key: str,
              *, required: bool = True, name: bool = False) -> str | None:
        value = entry.get(key)
        if value is None:
            if required:
                raise self.fail(f"[[{table}]] entry {index + 1} has no {key!r}", table, index)
            return None
        if not isinstance(value, str):
            raise self.fail(f"{key} must be a string, not {value!r}", table, index, key)
        if name and not is_valid_name(value):
            raise self.fail(f"{key} {value!r} is not 1..64 characters of A-Z a-z 0-9 . _ @ -",
                            table, index, key)
        if has_non_xml_char(value) or len(value) > MAX_TEXT_ATTR:
            raise self.fail(f"{key} {value[:40]!r} has control characters or is over "
                            f"{MAX_TEXT_ATTR} characters", table, index, key)
        return value

    def load_users(self) -> dict[str, User]:
        users: dict[str, User] = {}
        for index, entry in enumerate(self._entries("users")):
            uid = self._text(entry, "users", index, "uid", name=True) or ""
            if uid in users:
                raise self.fail(f"duplicate uid {uid!r}", "users", index, "uid")
            name = self._text(entry, "users", index, "name", required=False) or uid
            token = self._text(entry, "users", index, "token", required=False)
            token_hash = self._text(entry, "users", index, "token_hash", required=False)
            if token is not None and token_hash is not None:
                raise self.fail(f"user {uid!r} has both token and token_hash",
                                "users", index, "token_hash")
            if token == "":  # (--hash-token refuses one too): anyone would log in as uid
                raise self.fail(f"user {uid!r} has an empty token, which anyone matches: give "
                                f"a token, or none to keep {uid!r} from logging in",
                                "users", index, "token")
            if token_hash is not None and _parse_hash(token_hash) is None:
                raise self.fail(
                    f"token_hash of {uid!r} is not {HASH_SCHEME}$<iterations>$<salt>$<hex sha256>",
                    "users", index, "token_hash")
            priority = entry.get("priority", MIN_PRIORITY)
            if (not isinstance(priority, int) or isinstance(priority, bool)
                    or not MIN_PRIORITY <= priority <= MAX_PRIORITY):
                raise self.fail(f"priority of {uid!r} must be an integer "
                                f"{MIN_PRIORITY}..{MAX_PRIORITY}, not {priority!r}",
                                "users", index, "priority")
            users[uid] = User(uid, name, token, token_hash, priority)
        return users

    def _warn_tokenless_users(self, users: dict[str, User], settings: ServerSettings) -> None:
        """With auth = "token" a user without token or token_hash can never log in."""
        if settings.auth != "token":
            return
        if not users:
            logger.warning("%s: no [[users]], so nobody can log in (auth = \"token\")",
                           self.source or "directory")
        for uid, user in users.items():
            if user.token is None and user.token_hash is None:
                logger.warning("%s: user %r has no token or token_hash, so cannot log in "
                               "(auth = \"token\")", self.source or "directory", uid)

    def load_circles(self, table: str, users: dict[str, User]) -> dict[str, Circle]:
        circles: dict[str, Circle] = {}
        kind = "group" if table == "groups" else "discussion"
        for index, entry in enumerate(self._entries(table)):
            cid = self._text(entry, table, index, "id", name=True) or ""
            if cid in circles:
                raise self.fail(f"duplicate {kind} id {cid!r}", table, index, "id")
            name = self._text(entry, table, index, "name", required=False) or cid
            members = entry.get("members", [])
            if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
                raise self.fail(f"members of {kind} {cid!r} must be a list of uids",
                                table, index, "members")
            for uid in members:
                if uid != EVERYONE and uid not in users:
                    raise self.fail(f"unknown member {uid!r} in {kind} {cid!r}",
                                    table, index, "members", uid)
            everyone = EVERYONE in members
            preemptible = entry.get("preemptible", False)
            if not isinstance(preemptible, bool):
                raise self.fail(f"preemptible of {kind} {cid!r} must be true or false",
                                table, index, "preemptible")
            limit = entry.get("queue_limit")
            if limit is not None:
                problem = setting_problem("queue_limit", limit)
                if problem is not None:
                    raise self.fail(problem, table, index, "queue_limit")
            timeout = entry.get("queue_timeout")
            if timeout is not None:
                problem = setting_problem("queue_timeout", timeout)
                if problem is not None:
                    raise self.fail(problem, table, index, "queue_timeout")
            circles[cid] = Circle(cid, name, frozenset(m for m in members if m != EVERYONE),
                                  everyone, preemptible, limit,
                                  None if timeout is None else float(timeout))
        return circles
