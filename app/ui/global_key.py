"""The global talk key in the window: opens ``app.hotkey``'s key and brings its events home.

:class:`GlobalTalkKeyService` holds at most one global key. Its back-end calls
``on_press``/``on_release`` on a thread of its own; they are re-emitted as
:attr:`pressed`/:attr:`released` on the GUI thread through queued signals, so the
presenter sees the same press/release intents as from Space or the talk button.
:attr:`status` is a sentence for the status bar: which key works everywhere, or
why it does not (then the in-window key still works while the window has focus), worded
in the interface's language when it is read (so it follows a language switch).
A key another program holds is tried again every ``TAKEN_RETRY_MS`` and taken once it is
free (the other program quit, or let it go), without a restart or a settings change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal, Slot

from app.hotkey import (
    GlobalTalkKey,
    HotkeyError,
    HotkeyRefused,
    HotkeyTaken,
    open_global_talk_key,
    parse_talk_key,
)
from app.ui.failure_text import fill
from app.ui.hotkey_text import global_key_label, hotkey_text

__all__ = ["GlobalTalkKeyService", "check_global_key", "command_line_note", "from_command_line",
           "global_key_label"]

logger = logging.getLogger(__name__)

TAKEN_RETRY_MS = 10_000
"""While another program holds the key: how often it is tried again."""


def check_global_key(name: str) -> str:
    """The canonical name of an acceptable global key; raises ``HotkeyRefused`` (reason)."""
    return parse_talk_key(name).name


class GlobalTalkKeyService(QObject):
    """One optional global talk key; ``apply(name)`` takes it, ``apply("")`` lets it go."""

    pressed = Signal()
    released = Signal()
    status_changed = Signal(str)
    _backend_pressed = Signal()
    _backend_released = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._key: GlobalTalkKey | None = None
        self.name = ""  # the key asked for ("" = none)
        self.active = False  # the key works everywhere now
        self._status: Callable[[], str] = str  # words the status when it is read
        self._lock = asyncio.Lock()
        self._retry = QTimer(self)  # runs only while another program holds the key
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self._try_again)
        self._retrying: asyncio.Task[str] | None = None
        queued = Qt.ConnectionType.QueuedConnection
        self._backend_pressed.connect(self._on_pressed, queued)
        self._backend_released.connect(self._on_released, queued)

    async def apply(self, name: str) -> str:
        """Take ``name`` globally (releasing the previous key); returns the status."""
        return await self._apply(name, again=False)

    async def _apply(self, name: str, *, again: bool) -> str:
        async with self._lock:
            if again and (name != self.name or self._key is not None):
                return self.status  # another key was asked for meanwhile
            self._retry.stop()
            self._close_key()
            self.name = name.strip()
            if not self.name:
                self._set_status(str)
                return self.status
            try:
                key = await asyncio.to_thread(open_global_talk_key, self.name,
                                              self._backend_pressed.emit,
                                              self._backend_released.emit)
            except HotkeyRefused as exc:
                refused = exc  # ``exc`` itself is unbound after the except clause
                self._set_status(lambda: fill(QCoreApplication.translate(
                    "GlobalTalkKeyService", "Global talk key refused: %1"),
                    hotkey_text(refused)))
                return self.status
            except HotkeyError as exc:
                if isinstance(exc, HotkeyTaken):
                    self._retry.start(TAKEN_RETRY_MS)  # it may be let go
                    if again:  # (said when it was first found taken)
                        return self.status
                logger.info("global talk key %s unavailable: %s", self.name, exc.reason)
                unavailable = exc
                self._set_status(lambda: _unavailable(hotkey_text(unavailable)))
                return self.status
            except Exception as exc:  # a back-end library failing must not stop the app
                logger.exception("opening the global talk key %s", self.name)
                words = str(exc) or type(exc).__name__
                self._set_status(lambda: _unavailable(words))
                return self.status
            self._key = key
            self.active = True
            logger.info("global talk key: %s", key.key.name)
            self._set_status(lambda: fill(QCoreApplication.translate(
                "GlobalTalkKeyService", "Global talk key: %1"), global_key_label(key.key.name)))
            return self.status

    @property
    def status(self) -> str:
        """Which key works everywhere, or why not ("" when none is asked for)."""
        return self._status()

    @property
    def key_name(self) -> str:
        """The canonical name of the key taken (``RightCtrl``), ``""`` when none works."""
        return self._key.key.name if self._key is not None else ""

    @property
    def held(self) -> bool:
        return self._key is not None and self._key.held

    def close(self) -> None:
        """Let the key go (a held key is released first, so a talk never sticks)."""
        self._retry.stop()
        if self._retrying is not None:
            self._retrying.cancel()
        self._close_key()

    def _try_again(self) -> None:
        """The key another program held: try it again (taken if it was let go)."""
        if self.name and self._key is None:
            self._retrying = asyncio.ensure_future(self._apply(self.name, again=True))

    def _close_key(self) -> None:
        key, self._key = self._key, None
        self.active = False
        if key is not None:
            try:
                key.close()
            except Exception:
                logger.exception("closing the global talk key")

    def _set_status(self, words: Callable[[], str]) -> None:
        self._status = words
        self.status_changed.emit(self.status)

    @Slot()
    def _on_pressed(self) -> None:
        self.pressed.emit()

    @Slot()
    def _on_released(self) -> None:
        self.released.emit()


def from_command_line(status: str) -> str:
    """The ``status`` of a key that ``--global-talk-key`` set, saying so (one text: Chinese
    has full-width brackets, without a space before them)."""
    return QCoreApplication.translate(
        "GlobalTalkKeyService", "%1 (for this run, from --global-talk-key)").replace(
        "%1", status)


def command_line_note(name: str) -> str:
    """The settings' note while ``--global-talk-key name`` is in effect: the field shows
    that key (or none), and a change there replaces it."""
    if name.strip():
        return QCoreApplication.translate(
            "GlobalTalkKeyService", "This key was given on the command line "
            "(--global-talk-key) for this run. A change here takes effect at once and is saved.")
    return QCoreApplication.translate(
        "GlobalTalkKeyService", "The command line (--global-talk-key \"\") turned the global "
        "talk key off for this run. A key chosen here takes effect at once and is saved.")


def _unavailable(reason: str) -> str:
    return fill(QCoreApplication.translate(
        "GlobalTalkKeyService", "Global talk key unavailable: %1"), reason)
