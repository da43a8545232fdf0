"""Every user setting, declared once with its type and default, stored in QSettings.

Read and write them as attributes: ``settings.release_delay_ms = 200``. A value
that cannot be converted back to its type (hand-edited file, older version), or
that is not among its choices or within its bounds, reads as the default.
``SCHEMA_VERSION`` and :meth:`Settings.upgrade` carry
stored values across releases.

The remembered token is not among them: :class:`TokenStore` keeps it in the
OS keyring (``keyring``), or, where no keyring backend is usable, in a file
only the user can read (0600), and says so. The settings file is 0600 too.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import keyring
import keyring.backends.fail
import keyring.errors
from keyring.backend import KeyringBackend
from PySide6.QtCore import QSettings

from app.protocol.limits import ALLOWED_FRAME_MS

logger = logging.getLogger(__name__)

T = TypeVar("T", str, int, bool)

LANGUAGES: tuple[str, ...] = ("system", "en", "zh_CN")
FRAME_MS_CHOICES: tuple[int, ...] = ALLOWED_FRAME_MS
BITRATE_CHOICES: tuple[int, ...] = (12000, 16000, 24000, 32000, 48000, 64000)
RELEASE_DELAY_RANGE_MS = (0, 1000)  # what the settings dialog offers
HOLD, TOGGLE = "hold", "toggle"
TALK_MODES: tuple[str, ...] = (HOLD, TOGGLE)
"""Hold the talk key (or button) to talk, or press it to start and again to stop."""
VOLUME_RANGE = (0, 100)  # percent, as the window's volume slider
SCHEMA_VERSION = 2
KEYRING_SERVICE = "Interphone"
_PRIVATE = 0o600


def _make_private(path: Path) -> None:
    """Owner read/write only (no-op where the file does not exist, e.g. the registry)."""
    with contextlib.suppress(OSError):
        if path.is_file():
            os.chmod(path, _PRIVATE)


def system_keyring() -> KeyringBackend | None:
    """The OS keyring backend, or None when none is usable (e.g. no Secret Service)."""
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration must not stop the app
        logger.warning("keyring unavailable: %s", exc)
        return None
    if isinstance(backend, keyring.backends.fail.Keyring) or backend.priority <= 0:
        return None
    return backend


class TokenStore:
    """Remembered tokens by account: in ``backend`` (a keyring), else in a 0600 file.

    ``secure`` tells which; :attr:`note` is a sentence for the user when it is the file.
    """

    def __init__(self, fallback_file: Path, backend: KeyringBackend | None) -> None:
        self.fallback_file = fallback_file
        self.backend = backend
        self._kept: dict[str, str] | None = None  # the tokens, once the file could not be written
        if backend is None:
            logger.warning("no usable system keyring: remembered tokens go to %s (mode 0600)",
                           fallback_file)

    @property
    def secure(self) -> bool:
        return self.backend is not None

    @property
    def file_writable(self) -> bool:
        """The token file can be written (or made): what it keeps lasts beyond this run."""
        if self._kept is not None:
            return False  # a write failed already
        path = self.fallback_file
        if path.exists():
            return path.is_file() and os.access(path, os.W_OK)
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)

    def get(self, account: str) -> str:
        if self.backend is not None:
            try:
                return self.backend.get_password(KEYRING_SERVICE, account) or ""
            except keyring.errors.KeyringError as exc:
                logger.warning("keyring read failed: %s", exc)
                return ""
        return self._read_file().get(account, "")

    def set(self, account: str, token: str) -> None:
        if not token:
            self.delete(account)
            return
        if self.backend is not None:
            try:
                self.backend.set_password(KEYRING_SERVICE, account, token)
                return
            except keyring.errors.KeyringError as exc:
                logger.warning("keyring write failed (%s); using %s", exc, self.fallback_file)
                self.backend = None
        tokens = self._read_file()
        tokens[account] = token
        self._write_file(tokens)

    def delete(self, account: str) -> None:
        if self.backend is not None:
            with contextlib.suppress(keyring.errors.KeyringError):
                self.backend.delete_password(KEYRING_SERVICE, account)
        tokens = self._read_file()
        if tokens.pop(account, None) is not None:
            self._write_file(tokens)

    def _read_file(self) -> dict[str, str]:
        if self._kept is not None:
            return dict(self._kept)
        try:
            lines = self.fallback_file.read_text(encoding="utf-8").splitlines()
        except OSError:
            return {}
        return dict(line.split("\t", 1) for line in lines if "\t" in line)

    def _write_file(self, tokens: dict[str, str]) -> None:
        """Write ``tokens`` to the file; where it cannot be written (its directory cannot:
        ``--settings`` there) they are kept for this run only, and that is logged once."""
        if self._kept is not None:
            self._kept = dict(tokens)
        if not tokens:
            with contextlib.suppress(OSError):
                self.fallback_file.unlink()
            return
        try:
            self.fallback_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.fallback_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.writelines(f"{account}\t{token}\n" for account, token in tokens.items())
        except OSError as exc:
            if self._kept is None:
                logger.warning("remembered token file %s cannot be written (%s): the token "
                               "is kept for this run only", self.fallback_file, exc)
                self._kept = dict(tokens)
            return
        _make_private(self.fallback_file)


class Setting(Generic[T]):
    """A typed QSettings entry; a descriptor on :class:`Settings`."""

    def __init__(self, key: str, default: T, choices: tuple[T, ...] = (),
                 bounds: tuple[int, int] | None = None) -> None:
        self.key = key
        self.default: T = default
        self.kind: type = type(default)
        self.choices: tuple[T, ...] = choices
        self.bounds = bounds  # an int's least and greatest value, both allowed

    def convert(self, raw: Any) -> T:
        """The stored ``raw`` value as this setting's type, or the default."""
        if raw is None:
            return self.default
        try:
            if self.kind is bool:
                value: Any = raw if isinstance(raw, bool) else str(raw).lower() in (
                    "true", "1", "yes", "on")
            else:
                value = self.kind(raw)
        except (TypeError, ValueError):
            logger.warning("setting %s: bad stored value %r, using default", self.key, raw)
            return self.default
        if self.choices and value not in self.choices:
            return self.default
        if self.bounds is not None and not self.bounds[0] <= value <= self.bounds[1]:
            # (a hand-edited release delay of 99999 ms held the microphone open 100 s)
            logger.warning("setting %s: stored value %r is outside %d..%d, using default",
                           self.key, raw, *self.bounds)
            return self.default
        return value

    @overload
    def __get__(self, obj: None, owner: type) -> Setting[T]: ...
    @overload
    def __get__(self, obj: Settings, owner: type) -> T: ...

    def __get__(self, obj: Settings | None, owner: type) -> Setting[T] | T:
        if obj is None:
            return self
        return self.convert(obj.store.value(self.key))

    def __set__(self, obj: Settings, value: T) -> None:
        obj.store.setValue(self.key, self.kind(value))


class Settings:
    """The application's settings over one QSettings store."""

    # sign-in
    server_address = Setting("signin/server", "127.0.0.1:9400")
    uid = Setting("signin/uid", "")
    legacy_token = Setting("signin/token", "")  # plain text before schema 2: moved out
    remember = Setting("signin/remember", False)
    tls = Setting("signin/tls", False)  # encrypted connection (TLS, trust on first use)
    # audio
    input_device = Setting("audio/input_device", "")  # "" = the system default
    output_device = Setting("audio/output_device", "")
    bitrate = Setting("audio/bitrate", 24000, BITRATE_CHOICES)
    frame_ms = Setting("audio/frame_ms", 20, FRAME_MS_CHOICES)
    volume = Setting("audio/volume", 80, bounds=VOLUME_RANGE)  # percent
    muted = Setting("audio/muted", False)
    tones = Setting("audio/tones", True)
    interphone_mix = Setting("audio/interphone_mix", "")  # see app.ui.interphone_mix
    # talking
    talk_key = Setting("talk/key", "Space")  # QKeySequence portable text
    release_delay_ms = Setting("talk/release_delay_ms", 150, bounds=RELEASE_DELAY_RANGE_MS)
    talk_mode = Setting("talk/mode", HOLD, TALK_MODES)  # TOGGLE: a press latches the talk
    global_talk_key = Setting("talk/global_key", "")  # app.hotkey name; "" = none
    # background
    close_to_tray = Setting("ui/close_to_tray", True)  # used only where a tray exists
    tray_hint_shown = Setting("ui/tray_hint_shown", False)
    start_at_login = Setting("ui/start_at_login", False)
    rejoin = Setting("signin/rejoin", "")  # interphones joined at the end, space-separated
    # interface
    language = Setting("ui/language", "system", LANGUAGES)
    geometry = Setting("ui/geometry", "")  # hex of saveGeometry()
    schema_version = Setting("meta/schema_version", 0)

    def __init__(self, store: QSettings | None = None, tokens: TokenStore | None = None) -> None:
        self.store = store if store is not None else QSettings("Interphone", "Interphone")
        self.tokens = tokens if tokens is not None else TokenStore(
            Path(self.store.fileName()).with_suffix(".token"), system_keyring())
        self.writable = True
        """False when the settings file (or its directory) cannot be written: what changes
        is lost at exit (logged once; the window says so once)."""
        self.upgrade()
        _make_private(Path(self.store.fileName()))
        if not self.store.isWritable():
            self._unwritable()

    @property
    def account(self) -> str:
        """The key of the remembered token: ``uid@server``."""
        return f"{self.uid}@{self.server_address}"

    @property
    def token(self) -> str:
        """The remembered token of the current account ("" if none)."""
        return self.tokens.get(self.account)

    @token.setter
    def token(self, value: str) -> None:
        self.tokens.set(self.account, value)

    @classmethod
    def declared(cls) -> dict[str, Setting[Any]]:
        """Every declared setting by attribute name."""
        return {name: value for name, value in vars(cls).items() if isinstance(value, Setting)}

    def upgrade(self) -> None:
        """Bring values stored by an older version up to ``SCHEMA_VERSION``."""
        if self.schema_version < SCHEMA_VERSION:
            # version 0 -> 1: nothing stored had another meaning yet
            # version 1 -> 2: the plain-text token moves to the token store
            plain = self.legacy_token
            if plain:
                if self.remember:
                    self.token = plain
                self.store.remove(Settings.legacy_token.key)
            self.schema_version = SCHEMA_VERSION
            self.sync()

    _FINGERPRINTS = "tls/fingerprints"

    def known_fingerprints(self) -> dict[str, str]:
        """Server certificate fingerprints the user accepted, by ``server_key(host, port)``."""
        self.store.beginGroup(self._FINGERPRINTS)
        try:
            return {key.replace("|", "/"): str(self.store.value(key))
                    for key in self.store.childKeys()}
        finally:
            self.store.endGroup()

    def remember_fingerprint(self, server: str, fingerprint: str) -> None:
        """Accept ``fingerprint`` for ``server`` (trust on first use, or a confirmed change)."""
        self.store.setValue(f"{self._FINGERPRINTS}/{server.replace('/', '|')}", fingerprint)
        self.sync()

    def forget_credentials(self) -> None:
        """Sign out: the remembered token is deleted and "remember me" is off."""
        self.token = ""
        self.store.remove(Settings.legacy_token.key)
        self.remember = False
        self.sync()

    def sync(self) -> None:
        self.store.sync()
        _make_private(Path(self.store.fileName()))
        if self.store.status() is QSettings.Status.AccessError:
            self._unwritable()

    def _unwritable(self) -> None:
        if self.writable:
            self.writable = False
            logger.warning("settings file %s cannot be written: changes will be lost at exit",
                           self.store.fileName())
