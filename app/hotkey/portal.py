"""The global talk key on Wayland: the XDG desktop portal's GlobalShortcuts, over D-Bus.

Wayland gives no program the keys typed into another one; the desktop may lend a
shortcut through ``org.freedesktop.portal.GlobalShortcuts`` (KDE Plasma 6, GNOME 48 and
later, Hyprland…): ``CreateSession``, then ``BindShortcuts`` with the key as the preferred
trigger (the desktop may ask the user to confirm or pick another key), then its
``Activated`` / ``Deactivated`` signals are the press and the release.

Where the session bus, the portal or its GlobalShortcuts interface is missing, the
constructor raises ``HotkeyUnavailable`` with the plain reason. Mouse buttons cannot be
bound through the portal. A program not run in a sandbox first names itself by its .desktop
file id (``interphone``) through ``org.freedesktop.host.portal.Registry`` where the portal
has it (xdg-desktop-portal 1.19+). Tested here only for the "unavailable" answers (no desktop with
the portal on the test machine); the binding follows the portal specification.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, Message, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, Proxy, open_dbus_connection
from jeepney.wrappers import DBusErrorResponse, Properties, unwrap_msg

from app.hotkey.errors import NO_GLOBAL_SHORTCUTS, HotkeyProblem, HotkeyUnavailable
from app.hotkey.keys import KeyKind, TalkKey

__all__ = ["NO_GLOBAL_SHORTCUTS", "PortalTalkKey"]

logger = logging.getLogger(__name__)

_PORTAL_NAME = "org.freedesktop.portal.Desktop"
_PORTAL_PATH = "/org/freedesktop/portal/desktop"
_SHORTCUTS = DBusAddress(_PORTAL_PATH, bus_name=_PORTAL_NAME,
                         interface="org.freedesktop.portal.GlobalShortcuts")
_SHORTCUT_ID = "talk"
_CALL_TIMEOUT_SECONDS = 10.0
_USER_ANSWER_TIMEOUT_SECONDS = 120.0  # BindShortcuts may wait for the user's confirmation


class PortalTalkKey:
    """``key`` bound through the desktop portal; callbacks run on the D-Bus reader thread."""

    def __init__(self, key: TalkKey, on_press: Callable[[], None],
                 on_release: Callable[[], None], *, bus: str = "SESSION",
                 app_id: str = "interphone") -> None:
        if key.kind is KeyKind.MOUSE_BUTTON:
            raise HotkeyUnavailable(HotkeyProblem.PORTAL_KEYS_ONLY, key.name)
        self.key = key
        self._on_press = on_press
        self._on_release = on_release
        self._held = False
        self._closed = False
        try:
            self._connection: DBusConnection = open_dbus_connection(bus=bus)
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise HotkeyUnavailable(HotkeyProblem.NO_DBUS_SESSION, key.name, str(exc)) from exc
        try:
            self._register_host_app(app_id)
            self._check_portal()
            session_token = _token()
            self._session = str(self._request(
                "CreateSession", lambda token: create_session_message(token, session_token),
            )["session_handle"][1])
            self._bind()
        except BaseException:
            self._connection.close()
            raise
        self._signals = MatchRule(type="signal", interface=_SHORTCUTS.interface,
                                  path=_PORTAL_PATH)
        Proxy(message_bus, self._connection).AddMatch(self._signals)
        self._thread = threading.Thread(
            target=self._read_signals, name=f"talk-key-portal-{key.name}", daemon=True)
        self._thread.start()

    def _register_host_app(self, app_id: str) -> None:
        """Name this (not sandboxed) program to the portal by its .desktop file id, as
        xdg-desktop-portal 1.19+ asks of host programs; older portals lack the call."""
        registry = DBusAddress(_PORTAL_PATH, bus_name=_PORTAL_NAME,
                               interface="org.freedesktop.host.portal.Registry")
        try:
            unwrap_msg(self._connection.send_and_get_reply(
                new_method_call(registry, "Register", "sa{sv}", (app_id, {})),
                timeout=_CALL_TIMEOUT_SECONDS))
        except (DBusErrorResponse, TimeoutError) as exc:
            logger.debug("portal host registration not done: %s", exc)

    def _check_portal(self) -> None:
        try:
            reply = self._connection.send_and_get_reply(
                Properties(_SHORTCUTS).get("version"), timeout=_CALL_TIMEOUT_SECONDS)
            version = unwrap_msg(reply)[0][1]
        except DBusErrorResponse as exc:
            raise HotkeyUnavailable(HotkeyProblem.NO_PORTAL, self.key.name, exc.name) from exc
        except TimeoutError as exc:
            raise HotkeyUnavailable(HotkeyProblem.PORTAL_NO_ANSWER, self.key.name) from exc
        logger.info("desktop portal GlobalShortcuts version %s", version)

    def _request(self, method: str, build: Callable[[str], Message],
                 timeout: float = _CALL_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Call a portal method that answers through a Request object's Response signal;
        ``build(handle_token)`` makes the call."""
        token = _token()
        sender = (self._connection.unique_name or "").lstrip(":").replace(".", "_")
        rule = MatchRule(type="signal", interface="org.freedesktop.portal.Request",
                         member="Response",
                         path=f"{_PORTAL_PATH}/request/{sender}/{token}")
        Proxy(message_bus, self._connection).AddMatch(rule)
        with self._connection.filter(rule) as responses:
            try:
                unwrap_msg(self._connection.send_and_get_reply(
                    build(token), timeout=_CALL_TIMEOUT_SECONDS))
                code, results = self._connection.recv_until_filtered(
                    responses, timeout=timeout).body
            except DBusErrorResponse as exc:
                raise HotkeyUnavailable(HotkeyProblem.NO_PORTAL, self.key.name,
                                        exc.name) from exc
            except TimeoutError as exc:
                raise HotkeyUnavailable(HotkeyProblem.PORTAL_NO_ANSWER, self.key.name,
                                        method) from exc
        if code != 0:
            raise HotkeyUnavailable(HotkeyProblem.BIND_CANCELLED if code == 1
                                    else HotkeyProblem.NOT_BOUND, self.key.name)
        return dict(results)

    def _bind(self) -> None:
        results = self._request(
            "BindShortcuts", lambda token: bind_shortcuts_message(self._session, self.key, token),
            timeout=_USER_ANSWER_TIMEOUT_SECONDS)
        bound = [entry for entry in results.get("shortcuts", ("", []))[1]
                 if entry[0] == _SHORTCUT_ID]
        if not bound:
            raise HotkeyUnavailable(HotkeyProblem.NOT_BOUND, self.key.name)
        trigger = bound[0][1].get("trigger_description", ("s", "?"))[1]
        logger.info("global talk key bound by the desktop portal as %s", trigger)

    def _read_signals(self) -> None:
        try:
            with self._connection.filter(self._signals, bufsize=64) as signals:
                while True:
                    self._handle(self._connection.recv_until_filtered(signals))
        except (OSError, ValueError) as exc:
            if not self._closed:
                logger.warning("global talk key: D-Bus connection lost (%s)", exc)
        except Exception:
            logger.exception("global talk key: portal reader failed")
        finally:
            self._set_held(False)

    def _handle(self, message: Message) -> None:
        session, shortcut_id = message.body[0], message.body[1]
        if session != self._session or shortcut_id != _SHORTCUT_ID:
            return
        member = message.header.fields.get(HeaderFields.member)
        if member == "Activated":
            self._set_held(True)
        elif member == "Deactivated":
            self._set_held(False)

    def _set_held(self, held: bool) -> None:
        if held == self._held:
            return
        self._held = held
        try:
            (self._on_press if held else self._on_release)()
        except Exception:
            logger.exception("global talk key: callback failed")

    @property
    def held(self) -> bool:
        return self._held

    def close(self) -> None:
        """Close the portal session and stop the reader. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._connection.send(new_method_call(
                DBusAddress(self._session, bus_name=_PORTAL_NAME,
                            interface="org.freedesktop.portal.Session"), "Close"))
        with contextlib.suppress(OSError):
            self._connection.sock.shutdown(socket.SHUT_RDWR)
        if threading.current_thread() is not self._thread:
            self._thread.join()
        self._connection.close()


def create_session_message(handle_token: str, session_token: str) -> Message:
    """``GlobalShortcuts.CreateSession(a{sv} options)``."""
    return new_method_call(_SHORTCUTS, "CreateSession", "a{sv}", ({
        "handle_token": ("s", handle_token), "session_handle_token": ("s", session_token)},))


def bind_shortcuts_message(session: str, key: TalkKey, handle_token: str) -> Message:
    """``GlobalShortcuts.BindShortcuts(o session, a(sa{sv}) shortcuts, s parent_window,
    a{sv} options)`` for the one talk shortcut, with ``key`` as the preferred trigger
    (a keysym name, as the XDG shortcuts specification writes keys)."""
    shortcut = (_SHORTCUT_ID, {
        "description": ("s", "Interphone: talk while held"),
        "preferred_trigger": ("s", key.x11_keysyms[0]),
    })
    return new_method_call(_SHORTCUTS, "BindShortcuts", "oa(sa{sv})sa{sv}",
                           (session, [shortcut], "", {"handle_token": ("s", handle_token)}))


def _token() -> str:
    return f"interphone_{secrets.token_hex(8)}"
