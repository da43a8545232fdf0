"""Lists that must fit one frame (PROTOCOL.md 1.1, 64 KiB): the roster and the presence sync.

A directory of a thousand users gives each a roster of a thousand contacts, close to a
frame's size (e-mail addresses as uids pass it); the server then sends the groups and
discussions and **as many contacts as fit**, in roster order, and the presence sync of
those contacts as many as fit. Both are cut alike (:func:`fitting_entries`): the XML of
such a message is its children's one after the other, and each child's XML is kept by the
codec, so that a list's size is one encoding of a small message and the sum of its
entries' kept sizes, not a search over encodings of the whole frame.
"""

from __future__ import annotations

from collections.abc import Callable
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


def fitting_entries(build: Callable[[tuple[T, ...]], Message], kept: tuple[T, ...],
                    optional: tuple[T, ...], entry_size: Callable[[T], int],
                    budget: int = MAX_FRAME) -> int:
    """How many of ``optional`` (from the first) fit with all of ``kept`` in the message
    ``build`` makes of a list of entries (a roster, a presence sync), encoded in ``budget``
    bytes: ``len(optional)`` when all fit. ``entry_size``: the bytes an entry adds to the
    list's XML (its kept XML's length, which the codec splices into a long list). Without a
    whole encoding of the frame unless it must be cut (a roster of a thousand contacts
    takes about 10 ms to encode, and a reload tells every session its roster)."""
    if not optional:
        return 0
    first = (*kept, optional[0])  # measured with an entry: an empty element closes itself
    used = size_of(build(first[:1])) + sum(entry_size(entry) for entry in first[1:]) \
        - entry_size(optional[0])
    sizes = [entry_size(entry) for entry in optional]
    if used + sum(sizes) <= budget:
        return len(optional)
    count = 0
    for size in sizes:
        used += size
        if used > budget:
            break
        count += 1
    while count and size_of(build(kept + optional[:count])) > budget:
        count -= 1  # not reached while the encoding of children is their concatenation
    return count


def fitting_contacts(build: Callable[[tuple[RosterEntry, ...]], Message],
                     circles: tuple[RosterEntry, ...], contacts: tuple[RosterEntry, ...],
                     budget: int = MAX_FRAME) -> int:
    """How many of ``contacts`` (from the first) fit with all of ``circles`` in the login
    response or roster notice ``build`` makes, encoded in ``budget`` bytes."""
    return fitting_entries(build, circles, contacts, roster_entry_size, budget)
