"""The interphone list as the presenter shows it: one :class:`InterphoneRow` per roster
entry, plus live chats with people outside the roster (pure: no Qt)."""

from __future__ import annotations

import functools
from collections.abc import Container

from app.client import CallState, ClientModel
from app.protocol import AttachType, InterphoneId, other_party
from app.ui.view_types import InterphoneRow, RowKind

_KINDS = {AttachType.GROUP: RowKind.GROUP, AttachType.DISCUSS: RowKind.DISCUSS,
          AttachType.CHAT: RowKind.CHAT}


def display_names(model: ClientModel) -> dict[str, str]:
    """Names by uid from the roster: the contacts', and ours when the server gave it
    (uids without a name are left out)."""
    names = {entry.id: entry.name for entry in model.contacts if entry.name}
    if model.name:
        names[model.uid] = model.name
    return names


@functools.lru_cache(maxsize=8192)
def _chat(me: str, uid: str) -> InterphoneId:
    """The chat with a contact (made once: a roster of a thousand contacts is listed again
    at each change, and making an id checks both uids)."""
    return InterphoneId.chat(me, uid)


def interphone_rows(model: ClientModel, active: Container[str],
                    muted: Container[str] = ()) -> list[InterphoneRow]:
    """Every roster entry, plus live chats with people outside the roster (``active``: the
    joined interphones other than the talk target where someone speaks; ``muted``: the
    interphones whose sound is off)."""
    return listed_rows(model, active, muted)[0]


def listed_rows(model: ClientModel, active: Container[str],
                muted: Container[str] = ()) -> tuple[list[InterphoneRow], int]:
    """:func:`interphone_rows`, and how many of them are the roster's (the first ones; the
    others, live chats outside the roster, come and go with their interphone)."""
    me = model.uid
    joined = str(model.joined) if model.joined is not None else ""
    rows: list[InterphoneRow] = []
    seen: set[str] = set()
    entries = [(InterphoneId.group(e.id), e.name) for e in model.groups]
    entries += [(InterphoneId.discuss(e.id), e.name) for e in model.discussions]
    entries += [(_chat(me, e.id), e.name or e.id) for e in model.contacts if e.id != me]
    for interphone, name in entries:
        rows.append(_row(model, interphone, name, joined, active, muted))
        seen.add(str(interphone))
    listed = len(rows)
    for interphone in model.interphones:
        if str(interphone) not in seen:
            peer = (interphone.peer if interphone.key == me else interphone.key) \
                if interphone.kind is AttachType.CHAT else interphone.key
            rows.append(_row(model, interphone, peer or str(interphone), joined, active,
                             muted))
    return rows, listed


def interphone_row(model: ClientModel, shown: InterphoneRow, active: Container[str],
                   muted: Container[str] = ()) -> InterphoneRow:
    """The row ``shown`` (its name kept) as the model, ``active`` and ``muted`` say now."""
    joined = str(model.joined) if model.joined is not None else ""
    return _row(model, InterphoneId.parse(shown.id), shown.name, joined, active, muted)


def _row(model: ClientModel, interphone: InterphoneId, name: str, joined: str,
         active: Container[str], muted: Container[str]) -> InterphoneRow:
    """``joined``: the talk target's id; other joined interphones are listened to."""
    info = model.interphone(interphone)
    key = str(interphone)
    speaker = model.speaker if key == joined else (info.speaker if info else "")
    online = None
    calling = False
    if interphone.involves(model.uid):  # (a chat of ours)
        online = model.is_online(other_party(interphone, model.uid))
        calling = (model.is_joined(interphone)
                   and model.outgoing_call(interphone) is CallState.RINGING)
    return InterphoneRow(id=key, kind=_KINDS[interphone.kind], name=name,
                         member_count=info.member_count if info else 0,
                         speaker=speaker or "", joined=model.is_joined(interphone),
                         talk_target=key == joined, active=key in active,
                         online=online, muted=key in muted, calling=calling)
