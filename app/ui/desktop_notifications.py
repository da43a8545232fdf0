"""The desktop's notifications: ``org.freedesktop.Notifications`` on the session bus.

Qt's tray icon says its messages through the notification daemon only when the tray is
a StatusNotifierItem host, and then without an action, so a click on one did nothing
(dunst, Plasma: a click only closes it); with an XEmbed tray it draws a balloon of its
own next to the icon; with no tray, nothing. :class:`DesktopNotifications` talks to the
daemon itself, whatever the tray: each message with a default action (a click on it,
``clicked`` with its key), one notification per key, replaced in place by the next
one with that key (no pile of "Bob is speaking"). Without a session bus or a daemon
(``available`` False), the tray's own messages are used instead. The daemon is followed
on the bus: one that starts after the app (a desktop's shell that comes up after the
apps of the login, a daemon restarted) is used from then on, one that goes away leaves
the messages to the tray again.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import sys
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtGui import QIcon, QImage

from app.client.tasks import TaskSet

logger = logging.getLogger(__name__)

CALL_TIMEOUT_S = 2.0
"""A daemon that does not answer within this is taken as absent (no hang at start)."""
IMAGE_PX = 64
"""The side of the picture sent with a message (``image-data``)."""
_NAME = "org.freedesktop.Notifications"
_PATH = "/org/freedesktop/Notifications"


def image_data(of: QIcon, side: int = IMAGE_PX) -> tuple[str, tuple[Any, ...]]:
    """``of`` as the ``image-data`` hint: (width, height, rowstride, alpha, bits per
    sample, channels, RGBA bytes)."""
    image = of.pixmap(side, side).toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    data = bytes(image.constBits())[:image.sizeInBytes()]
    return "(iiibiiay)", (image.width(), image.height(), image.bytesPerLine(), True, 8, 4,
                          data)


class DesktopNotifications(QObject):
    """Messages through the notification daemon, on the asyncio loop (qasync's)."""

    clicked = Signal(str)  # the key of the message clicked (its default action)

    def __init__(self, parent: QObject | None = None, *, bus: str = "SESSION") -> None:
        super().__init__(parent)
        self._bus = bus
        self._closed = False
        self.available = False
        self.actions = False  # the daemon offers actions (a click is reported)
        self.markup = False  # the daemon reads the body as markup (names are escaped)
        self._connection: Any = None
        self._router: Any = None
        self._filters: list[Any] = []
        self._listener: asyncio.Task[None] | None = None
        self._ids: dict[str, int] = {}  # key -> the daemon's id of its message on screen
        self._keys: dict[int, str] = {}
        self._tasks = TaskSet(lambda exc: logger.warning("notification failed: %s", exc))

    async def start(self) -> bool:
        """Connect to the session bus and ask the daemon what it can do; False (and the
        tray's messages instead) without either."""
        if not sys.platform.startswith("linux"):
            return False
        from jeepney import DBusAddress, MatchRule
        from jeepney.bus_messages import message_bus
        from jeepney.io.asyncio import DBusRouter, open_dbus_connection

        try:
            connection = await asyncio.wait_for(open_dbus_connection(self._bus),
                                                CALL_TIMEOUT_S)
        except (OSError, KeyError, ValueError, RuntimeError, TimeoutError) as exc:
            logger.info("no session bus for notifications (%s): tray messages instead",
                        exc or type(exc).__name__)
            return False
        self._connection = connection
        self._router = DBusRouter(connection)
        self._address = DBusAddress(_PATH, bus_name=_NAME, interface=_NAME)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        owner = MatchRule(type="signal", sender="org.freedesktop.DBus",
                          interface="org.freedesktop.DBus", member="NameOwnerChanged",
                          path="/org/freedesktop/DBus")
        owner.add_arg_condition(0, _NAME)
        rules = (MatchRule(type="signal", interface=_NAME, path=_PATH), owner)
        self._filters = [self._router.filter(rule, queue=queue) for rule in rules]
        for rule in rules:
            with contextlib.suppress(OSError, TimeoutError, RuntimeError):
                await self._call(message_bus.AddMatch(rule))
        self._listener = asyncio.ensure_future(self._listen(queue))
        await self._probe()
        if self._closed:  # (quit while it started)
            await self.close()
            return False
        return self.available

    async def _probe(self) -> None:
        """Ask the daemon what it can do (which starts it where the bus can): available
        if it answers."""
        from jeepney import new_method_call

        try:
            reply = await self._call(new_method_call(self._address, "GetCapabilities"))
        except (OSError, TimeoutError, RuntimeError) as exc:
            logger.info("no notification daemon (%s): tray messages instead",
                        exc or type(exc).__name__)
            self.available = False
            return
        self.actions = "actions" in reply[0]
        self.markup = "body-markup" in reply[0]
        self.available = not self._closed
        logger.info("notifications through the desktop's daemon (actions: %s)",
                    "yes" if self.actions else "no")

    async def _call(self, message: Any) -> tuple[Any, ...]:
        """A method call's reply body; a D-Bus error, or the bus gone, raises RuntimeError."""
        from jeepney import HeaderFields, MessageType
        from jeepney.io.common import RouterClosed

        try:
            reply = await asyncio.wait_for(self._router.send_and_get_reply(message),
                                           CALL_TIMEOUT_S)
        except RouterClosed as exc:
            raise RuntimeError("the session bus went away") from exc
        if reply.header.message_type is MessageType.error:
            detail = reply.body[0] if reply.body else ""
            raise RuntimeError(f"{reply.header.fields.get(HeaderFields.error_name)}: {detail}")
        return tuple(reply.body)

    def notify(self, key: str, title: str, text: str, picture: QIcon, timeout_ms: int, *,
               urgent: bool = False, clickable: bool = True) -> bool:
        """Show a message (replacing the one with ``key`` if still on screen), with a
        default action if ``clickable``; False when there is no daemon (say it another
        way)."""
        if not self.available:
            return False
        self._tasks.spawn(self._notify(key, title, text, picture, timeout_ms, urgent,
                                       clickable), "notification")
        return True

    def withdraw(self, key: str) -> None:
        """The message with ``key`` is no longer true (a call that ended): off the screen."""
        number = self._ids.pop(key, None)
        if number is None or not self.available:
            return
        self._keys.pop(number, None)
        self._tasks.spawn(self._close_on_screen(number), "withdraw notification")

    async def _withdraw_all(self) -> None:
        numbers = list(self._ids.values())
        self._ids.clear()
        self._keys.clear()
        await asyncio.gather(*(self._close_on_screen(number) for number in numbers))

    async def _close_on_screen(self, number: int) -> None:
        """The daemon's message ``number`` off the screen (errors ignored: it may be gone)."""
        from jeepney import new_method_call
        await self._quiet_call(new_method_call(
            self._address, "CloseNotification", "u", (number,)))

    async def _quiet_call(self, message: Any) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            await self._call(message)

    async def _notify(self, key: str, title: str, text: str, picture: QIcon,
                      timeout_ms: int, urgent: bool, clickable: bool) -> None:
        from jeepney import new_method_call

        actions = ["default", QCoreApplication.translate("DesktopNotifications", "Show")] \
            if self.actions and clickable else []
        hints: dict[str, tuple[str, Any]] = {
            "desktop-entry": ("s", "interphone"),
            "urgency": ("y", 2 if urgent else 1),
        }
        if not picture.isNull():
            hints["image-data"] = image_data(picture)
        # the body is plain text (names): a daemon that reads it as markup showed
        # "R&D <night> is calling you" as "R&D  is calling you"
        message = new_method_call(
            self._address, "Notify", "susssasa{sv}i",
            (QCoreApplication.applicationName() or "Interphone", self._ids.get(key, 0), "",
             title, html.escape(text, quote=False) if self.markup else text, actions,
             hints, timeout_ms))
        try:
            (number,) = await self._call(message)
        except (OSError, TimeoutError, RuntimeError) as exc:
            if self.available:
                logger.warning("the notification daemon went away (%s): tray messages "
                               "instead", exc or type(exc).__name__)
            self.available = False
            return
        old = self._ids.get(key)
        if old is not None and old != number:
            self._keys.pop(old, None)
        self._ids[key] = number
        self._keys[number] = key

    async def _listen(self, queue: asyncio.Queue[Any]) -> None:
        from jeepney import HeaderFields

        while True:
            message = await queue.get()
            member = message.header.fields.get(HeaderFields.member)
            if member == "NameOwnerChanged":
                self._ids.clear()
                self._keys.clear()
                if message.body[2]:  # a daemon took the name
                    self._tasks.spawn(self._probe(), "notification daemon")
                elif self.available:
                    logger.info("the notification daemon went away: tray messages instead")
                    self.available = False
            elif member == "ActionInvoked":
                number, action = message.body
                key = self._keys.get(number)
                if key is not None and action == "default":
                    self.clicked.emit(key)
            elif member == "NotificationClosed":
                number = message.body[0]
                key = self._keys.pop(number, None)
                if key is not None and self._ids.get(key) == number:
                    del self._ids[key]

    async def close(self) -> None:
        """Off the bus; the messages still on screen go with the app (a missed call stays
        until clicked: after Quit, its click would open nothing)."""
        self._closed = True
        if self.available and self._ids:
            await self._withdraw_all()
        self.available = False
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._tasks.close()
        for handle in self._filters:
            handle.close()
        self._filters = []
        if self._router is not None:
            await self._router.__aexit__(None, None, None)
            self._router = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
