"""Lists that must fit one frame (PROTOCOL.md 1.1, 64 KiB): the roster and the presence sync.

A directory of a thousand users gives each a roster of a thousand contacts, close to a
frame's size (e-mail addresses as uids pass it); the server then sends the groups and
discussions and **as many contacts as fit**, in roster order, and the presence sync of
those contacts as many as fit. The size of each entry is measured once (the XML of a
message is its children's one after the other), so that cutting costs one encoding of a
small message per entry rather than a search over encodings of the whole frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from app.protocol.limits import MAX_FRAME
from app.protocol.messages import LoginResult, Message, RosterEntry, RosterNotice
from app.protocol.xmlcodec import encode_message
from app.protocol.xmlcodec.base import roster_xml

T = TypeVar("T")

LOGIN_HEADROOM = 1024
"""Bytes a login response takes beyond the roster notice of the same roster (its
envelope's seq, uid, ports, features, media secret, level), kept free when the roster is
fitted, so that the login response and the notice carry the same contacts."""


def size_of(message: Message) -> int:
    return len(encode_message(message))


def fitting_prefix(kept: Sequence[T], optional: Sequence[T],
                   build: Callable[[tuple[T, ...]], Message], budget: int = MAX_FRAME) -> int:
    """How many of ``optional`` (from its start) fit with all of ``kept`` in the message
    ``build`` makes, encoded in ``budget`` bytes: ``len(optional)`` when all fit."""
    whole = tuple(kept) + tuple(optional)
    if size_of(build(whole)) <= budget:
        return len(optional)
    first = optional[0]  # measured beside one child: an empty element closes itself
    alone = size_of(build((first,)))
    used = size_of(build(tuple(kept)))
    count = 0
    for entry in optional:
        used += size_of(build((first, entry))) - alone
        if used > budget:
            break
        count += 1
    while count and size_of(build(tuple(kept) + tuple(optional[:count]))) > budget:
        count -= 1  # not reached while the encoding of children is their concatenation
    return count


def roster_entry_size(entry: RosterEntry) -> int:
    """Bytes ``entry`` adds to the XML of a roster (a login response or a roster notice):
    its XML, which the codec makes once per entry and splices into every long roster."""
    return len(roster_xml((entry,)))


def roster_size(message: Message, roster: tuple[RosterEntry, ...]) -> int:
    """The encoded size of ``message`` (a login response or a roster notice) whose roster
    is ``roster``: one encoding of it with one entry, and the entries' sizes."""
    body = message.body
    assert isinstance(body, LoginResult | RosterNotice)
    if not roster:
        return size_of(message)
    small = replace(message, body=replace(body, roster=roster[:1]))
    return size_of(small) + sum(roster_entry_size(entry) for entry in roster[1:])


def fitting_contacts(build: Callable[[tuple[RosterEntry, ...]], Message],
                     circles: tuple[RosterEntry, ...], contacts: tuple[RosterEntry, ...],
                     budget: int = MAX_FRAME) -> int:
    """How many of ``contacts`` (from the first) fit with all of ``circles`` in the login
    response or roster notice ``build`` makes, encoded in ``budget`` bytes. Without a
    whole encoding of the frame unless it must be cut (a roster of a thousand contacts
    takes about 10 ms to encode, and a reload tells every session its roster)."""
    whole = circles + contacts
    if not contacts or roster_size(build(whole), whole) <= budget:
        return len(contacts)
    first = circles + contacts[:1]
    used = roster_size(build(first), first) - roster_entry_size(contacts[0])
    count = 0
    for entry in contacts:
        used += roster_entry_size(entry)
        if used > budget:
            break
        count += 1
    while count and size_of(build(circles + contacts[:count])) > budget:
        count -= 1  # not reached while the encoding of children is their concatenation
    return count
