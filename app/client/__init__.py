"""The Interphone client: asyncio signaling session with reconnect, UDP media, and a model.

Public API (see docs/client-api.md)::

    from app.client import InterphoneClient, ClientModel, FloorState, ConnectionState
"""

from app.client.client import InterphoneClient
from app.client.errors import (
    ClientError,
    ConnectionLost,
    FloorBusy,
    LoginRefused,
    NotAllowed,
    NotConnected,
    NotFound,
    NotJoined,
    QueueLeft,
    RequestTimeout,
    ServerError,
    ServerUnreachable,
)
from app.client.events import (
    CallState,
    ConnectionChanged,
    ConnectionState,
    ContactPresenceChanged,
    EmergencyChanged,
    FloorChanged,
    FloorOutcome,
    FloorState,
    IncomingCall,
    IncomingCallEnded,
    InterphoneEnded,
    InterphoneUpdated,
    JoinedChanged,
    JoinedSetChanged,
    JoinedSpeakerChanged,
    MembersChanged,
    ModelEvent,
    OutgoingCallChanged,
    RemovedFromInterphone,
    RosterChanged,
    SpeakerChanged,
)
from app.client.model import ClientModel

__all__ = [
    "CallState",
    "ClientError",
    "ClientModel",
    "ConnectionChanged",
    "ConnectionLost",
    "ConnectionState",
    "ContactPresenceChanged",
    "EmergencyChanged",
    "FloorBusy",
    "FloorChanged",
    "FloorOutcome",
    "FloorState",
    "IncomingCall",
    "IncomingCallEnded",
    "InterphoneClient",
    "InterphoneEnded",
    "InterphoneUpdated",
    "JoinedChanged",
    "JoinedSetChanged",
    "JoinedSpeakerChanged",
    "LoginRefused",
    "MembersChanged",
    "ModelEvent",
    "NotAllowed",
    "NotConnected",
    "NotFound",
    "NotJoined",
    "OutgoingCallChanged",
    "QueueLeft",
    "RemovedFromInterphone",
    "RequestTimeout",
    "RosterChanged",
    "ServerError",
    "ServerUnreachable",
    "SpeakerChanged",
]
