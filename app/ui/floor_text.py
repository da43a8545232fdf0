"""What the UI says about the floor: queue places, why a turn ended, emergencies."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.client.store_outage import is_store_unavailable
from app.client.turn import EndReason

translate = QCoreApplication.translate


def end_reason_text(reason: EndReason, by: str = "") -> str:
    """The message shown when a turn (or a wait) ended without the user releasing."""
    if reason is EndReason.TIME_LIMIT:
        return translate("FloorText", "Your turn ended: the talk time limit was reached.")
    if reason is EndReason.SILENCE:
        return translate("FloorText", "Your turn ended: nothing was heard from you for too long.")
    if reason is EndReason.PREEMPTED:
        if by:
            return translate("FloorText", "Your turn was taken over by %1 (higher priority)."
                             ).replace("%1", by)
        return translate("FloorText", "Your turn was taken over by a higher priority.")
    if reason is EndReason.SHUTDOWN:
        return translate("FloorText", "Your turn ended: the server is shutting down.")
    if reason is EndReason.DISCONNECTED:
        return translate("FloorText", "Your turn ended: the connection was lost.")
    if reason is EndReason.QUEUE_EXPIRED:
        return translate("FloorText", "You waited too long and left the line. Press again to ask.")
    return translate("FloorText", "The server ended your turn to talk.")


def refusal_text(errcode: int, errmsg: str = "") -> str:
    """Why our floor request was refused (the talk button's line under "Denied"): only a
    403 is a refusal of permission; the server's fault, its budget or another error says
    what it is (``errmsg``: the server's words)."""
    if errcode in (0, 403):
        return translate("FloorText", "You may not talk here")
    if errcode == 429:
        return translate("FloorText", "Too many requests; try again in a moment")
    if is_store_unavailable(errcode, errmsg):
        return translate("FloorText", "The server cannot reach its database; try again in "
                         "a moment")
    if errcode >= 500:
        if errmsg:
            # (the server's words say when to try again: "store unavailable: try again
            # later or another server")
            return translate("FloorText", "The server could not take your request: %1"
                             ).replace("%1", errmsg)
        return translate("FloorText", "The server could not take your request; try again")
    if errmsg:
        return translate("FloorText", "The server refused the request (error %1: %2)"
                         ).replace("%1", str(errcode)).replace("%2", errmsg)
    return translate("FloorText", "The server refused the request (error %1)").replace(
        "%1", str(errcode))


def queue_text(position: int) -> str:
    """The talk button's detail line while waiting in line."""
    if position <= 1:
        return translate("FloorText", "You're next")
    return translate("FloorText", "Position %1 in line").replace("%1", str(position))


def emergency_cancelled_text(where: str, cancelled_by: str) -> str:
    """The status bar's line when someone else cancels an emergency we saw: ``where`` is
    the interphone's name, ``cancelled_by`` who cancelled it."""
    return translate("FloorText", "Emergency on %1 cancelled by %2").replace(
        "%1", where).replace("%2", cancelled_by)


def emergency_text(raised_by: str, *, by_you: bool = False, where: str = "") -> str:
    """The emergency banner's line; ``by_you``: we raised it (not our uid, as it read);
    ``where``: the interphone's name, when the banner is over another one's panel."""
    if where and by_you:
        return translate("FloorText", "EMERGENCY in %1 raised by you").replace("%1", where)
    if where:
        return translate("FloorText", "EMERGENCY in %1 raised by %2").replace(
            "%1", where).replace("%2", raised_by)
    if by_you:
        return translate("FloorText", "EMERGENCY raised by you")
    return translate("FloorText", "EMERGENCY raised by %1").replace("%1", raised_by)
