"""Choosing the global talk key's back-end, and the Wayland portal's "unavailable" answers.

The portal's binding path needs a desktop that offers org.freedesktop.portal.GlobalShortcuts,
which the test machines do not have: here the calls it makes are checked against the
specification's signatures, and a real (private) D-Bus bus without the portal must give
the plain "unavailable" reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from app.hotkey import (
    NO_GLOBAL_SHORTCUTS,
    Backend,
    HotkeyRefused,
    HotkeyUnavailable,
    choose_backend,
    open_global_talk_key,
    parse_talk_key,
)


@pytest.mark.parametrize(("platform", "environ", "backend"), [
    ("win32", {}, Backend.PYNPUT),
    ("darwin", {"DISPLAY": ":0"}, Backend.PYNPUT),
    ("linux", {"DISPLAY": ":0"}, Backend.X11),
    ("linux", {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, Backend.X11),
    ("linux", {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11", "WAYLAND_DISPLAY": "wayland-0"},
     Backend.X11),
    # XWayland sets DISPLAY too, but an X grab there sees only keys typed into X windows.
    ("linux", {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, Backend.PORTAL),
    ("linux", {"XDG_SESSION_TYPE": "wayland"}, Backend.PORTAL),
    ("linux", {"XDG_SESSION_TYPE": "Wayland", "DISPLAY": ":1"}, Backend.PORTAL),
    ("freebsd14", {"DISPLAY": ":0"}, Backend.X11),
])
def test_choose_backend(platform: str, environ: dict[str, str], backend: Backend) -> None:
    assert choose_backend(environ, platform) is backend


@pytest.mark.parametrize("environ", [{}, {"XDG_SESSION_TYPE": "tty"}])
def test_no_graphical_session_is_unavailable(environ: dict[str, str]) -> None:
    with pytest.raises(HotkeyUnavailable, match="no graphical session"):
        choose_backend(environ, "linux")


def test_a_refused_key_is_refused_before_any_backend_is_tried(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(HotkeyRefused, match="Caps Lock"):
        open_global_talk_key("CapsLock", lambda: None, lambda: None)


def _wayland(monkeypatch: pytest.MonkeyPatch, bus_address: str) -> None:
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus_address)


def test_wayland_without_a_session_bus_says_the_key_works_only_with_focus(
        monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    _wayland(monkeypatch, f"unix:path={tmp_path}/no-bus-here")
    with pytest.raises(HotkeyUnavailable) as unavailable:
        open_global_talk_key("F9", lambda: None, lambda: None)
    assert unavailable.value.reason.startswith(NO_GLOBAL_SHORTCUTS)


def test_wayland_cannot_bind_a_mouse_button(monkeypatch: pytest.MonkeyPatch) -> None:
    _wayland(monkeypatch, "unix:path=/nonexistent")
    with pytest.raises(HotkeyUnavailable, match="keyboard shortcuts only"):
        open_global_talk_key("Mouse4", lambda: None, lambda: None)


@pytest.fixture
def bus_without_portal() -> Iterator[str]:
    """A real, private D-Bus session bus on which no desktop portal runs."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (Debian package dbus-daemon)")
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().strip()
        assert address, "dbus-daemon printed no address"
        yield address
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        if daemon.stdout is not None:
            daemon.stdout.close()


def test_wayland_with_a_bus_but_no_portal_is_unavailable(
        monkeypatch: pytest.MonkeyPatch, bus_without_portal: str) -> None:
    pytest.importorskip("jeepney", reason="jeepney is a Linux-only dependency")
    _wayland(monkeypatch, bus_without_portal)
    with pytest.raises(HotkeyUnavailable) as unavailable:
        open_global_talk_key("RightCtrl", lambda: None, lambda: None)
    assert unavailable.value.reason.startswith(NO_GLOBAL_SHORTCUTS)
    assert "ServiceUnknown" in unavailable.value.reason


def test_portal_calls_follow_the_specification_signatures() -> None:
    pytest.importorskip("jeepney", reason="jeepney is a Linux-only dependency")
    from jeepney import HeaderFields

    from app.hotkey.portal import bind_shortcuts_message, create_session_message

    create = create_session_message("interphone_1", "interphone_2")
    bind = bind_shortcuts_message("/org/freedesktop/portal/desktop/session/1_5/interphone_2",
                                  parse_talk_key("RightCtrl"), "interphone_3")
    for message, member, signature in ((create, "CreateSession", "a{sv}"),
                                       (bind, "BindShortcuts", "oa(sa{sv})sa{sv}")):
        fields = message.header.fields
        assert fields[HeaderFields.destination] == "org.freedesktop.portal.Desktop"
        assert fields[HeaderFields.path] == "/org/freedesktop/portal/desktop"
        assert fields[HeaderFields.interface] == "org.freedesktop.portal.GlobalShortcuts"
        assert fields[HeaderFields.member] == member
        assert fields[HeaderFields.signature] == signature
        assert message.serialise(serial=1)  # the body matches the signature
    assert create.body[0]["session_handle_token"] == ("s", "interphone_2")
    shortcuts, options = bind.body[1], bind.body[3]
    assert shortcuts[0][0] == "talk"
    assert shortcuts[0][1]["preferred_trigger"] == ("s", "Control_R")
    assert options == {"handle_token": ("s", "interphone_3")}
