"""Plain values the presenter hands to the views (no Qt, no client types)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TalkState(StrEnum):
    """What the talk button shows."""

    IDLE = "idle"  # joined, nobody speaks: press to talk
    REQUESTING = "requesting"  # asked for the floor, no answer yet
    TALKING = "talking"  # we hold the floor
    QUEUED = "queued"  # waiting in line for the floor (detail: the position)
    BUSY = "busy"  # someone else speaks
    DENIED = "denied"  # our last request was refused
    NOT_JOINED = "not_joined"  # no interphone joined yet
    OFFLINE = "offline"  # no connection to the server


class RowKind(StrEnum):
    GROUP = "group"
    DISCUSS = "discuss"
    CHAT = "chat"


@dataclass(frozen=True, slots=True)
class InterphoneRow:
    """One entry of the interphone list: a roster entry, live or not."""

    id: str  # wire form, e.g. ``group_58`` or ``chat_lxx:sung``
    kind: RowKind
    name: str
    member_count: int = 0
    speaker: str = ""
    joined: bool = False
    talk_target: bool = False  # joined, and where the talk key talks (one row at most)
    active: bool = False  # joined but not the talk target, and someone speaks there now
    online: bool | None = None  # a contact's presence (None: unknown, e.g. no extension)
    muted: bool = False  # its sound is off in this app (the panel's Mute; kept when left)
    calling: bool = False  # a chat of ours where our call rings: not answered yet

    @property
    def live(self) -> bool:
        return self.member_count > 0


@dataclass(frozen=True, slots=True)
class Reception:
    """How the speaker being heard comes through (the speaker banner's quality line)."""

    speaker: str
    loss_pct: float  # over the last seconds
    jitter_ms: float
    fec_on: bool  # the speaker's packets carry in-band FEC
    fec_repairing: bool  # lost frames were rebuilt from FEC since the last update
    quiet_s: float = 0.0  # no packet came for this long (0: they come), the speaker holding on


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    """An audio device offered in the settings (``key`` is what the backend takes)."""

    key: str
    label: str


class LinkState(StrEnum):
    """The connection as the status bar shows it."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DEGRADED = "degraded"  # connected, but the server cannot reach its database for now
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"  # closed, kicked or refused


class SignInProblem(StrEnum):
    UNREACHABLE = "unreachable"  # no TCP connection
    REFUSED = "refused"  # 401
    BAD_ADDRESS = "bad_address"  # not host:port
    MISSING = "missing"  # uid or token empty
    BAD_UID = "bad_uid"  # not a user name the protocol allows
    CERT_NEW = "cert_new"  # TLS: first connection, the fingerprint must be accepted
    CERT_CHANGED = "cert_changed"  # TLS: not the certificate accepted before
    TLS = "tls"  # TLS: the handshake failed
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class CertificateDetails:
    """The details of a certificate question (:attr:`SignInProblem.CERT_NEW` or
    ``CERT_CHANGED``), worded by the dialog in its language."""

    server: str  # host:port, as the fingerprint is remembered under
    fingerprint: str  # what the server presents now
    remembered: str | None = None  # CERT_CHANGED: the fingerprint accepted before


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the settings dialog edits (a snapshot of :class:`app.ui.settings.Settings`)."""

    input_device: str = ""
    output_device: str = ""
    bitrate: int = 24000
    frame_ms: int = 20
    tones: bool = True
    talk_key: str = "Space"
    talk_mode: str = "hold"  # or "toggle": a press starts talking, the next one stops
    release_delay_ms: int = 150
    language: str = "system"
    global_talk_key: str = ""  # "" = none: the talk key works only while the window has focus
    close_to_tray: bool = True
    start_at_login: bool = False
