"""Every user setting, declared once with its type and default, stored in QSettings.

Read and write them as attributes: ``settings.release_delay_ms = 200``. A value
that cannot be converted back to its type (hand-edited file, older version)
reads as the default. ``SCHEMA_VERSION`` and :meth:`Settings.upgrade` carry
stored values across releases.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar, overload

from PySide6.QtCore import QSettings

logger = logging.getLogger(__name__)

T = TypeVar("T", str, int, bool)

LANGUAGES: tuple[str, ...] = ("system", "en", "zh_CN")
FRAME_MS_CHOICES: tuple[int, ...] = (10, 20, 40, 60)
BITRATE_CHOICES: tuple[int, ...] = (12000, 16000, 24000, 32000, 48000, 64000)
SCHEMA_VERSION = 1


class Setting(Generic[T]):
    """A typed QSettings entry; a descriptor on :class:`Settings`."""

    def __init__(self, key: str, default: T, choices: tuple[T, ...] = ()) -> None:
        self.key = key
        self.default = default
        self.kind: type = type(default)
        self.choices = choices

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
    token = Setting("signin/token", "")
    remember = Setting("signin/remember", False)
    # audio
    input_device = Setting("audio/input_device", "")  # "" = the system default
    output_device = Setting("audio/output_device", "")
    bitrate = Setting("audio/bitrate", 24000, BITRATE_CHOICES)
    frame_ms = Setting("audio/frame_ms", 20, FRAME_MS_CHOICES)
    volume = Setting("audio/volume", 80)  # percent
    muted = Setting("audio/muted", False)
    tones = Setting("audio/tones", True)
    # talking
    talk_key = Setting("talk/key", "Space")  # QKeySequence portable text
    release_delay_ms = Setting("talk/release_delay_ms", 150)
    # interface
    language = Setting("ui/language", "system", LANGUAGES)
    geometry = Setting("ui/geometry", "")  # hex of saveGeometry()
    schema_version = Setting("meta/schema_version", 0)

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings("Interphone", "Interphone")
        self.upgrade()

    @classmethod
    def declared(cls) -> dict[str, Setting[Any]]:
        """Every declared setting by attribute name."""
        return {name: value for name, value in vars(cls).items() if isinstance(value, Setting)}

    def upgrade(self) -> None:
        """Bring values stored by an older version up to ``SCHEMA_VERSION``."""
        if self.schema_version < SCHEMA_VERSION:
            # version 0 -> 1: nothing stored had another meaning yet
            self.schema_version = SCHEMA_VERSION

    def forget_credentials(self) -> None:
        self.token = ""
        self.remember = False

    def sync(self) -> None:
        self.store.sync()
