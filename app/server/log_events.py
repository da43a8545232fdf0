"""The events a node appends for its clients' requests, and the requests they stand for
(:mod:`app.server.replica` describes the events)."""

from __future__ import annotations

from typing import Any

from app.protocol.ids import InterphoneId
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    JoinRequest,
    Login,
    MembersRequest,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.presence import CallAction, CallRequest, PresenceSyncRequest

Event = dict[str, Any]


def request_event(sid: int, body: object, peer_ip: str) -> Event:
    match body:
        case Login(uid=uid, features=features):
            return {"t": "login", "sid": sid, "uid": uid, "ip": peer_ip,
                    "features": list(features)}
        case JoinRequest(interphone, member):
            return {"t": "join", "sid": sid, "id": str(interphone), "member": member}
        case QuitRequest(interphone, member):
            return {"t": "quit", "sid": sid, "id": str(interphone), "member": member}
        case SpeakRequest(on, interphone, queue, emergency):
            event: Event = {"t": "speak", "sid": sid, "id": str(interphone), "on": on}
            if queue:
                event["queue"] = True
            if emergency:
                event["emergency"] = True
            return event
        case EmergencyRequest(action, interphone):
            return {"t": "emergency", "sid": sid, "id": str(interphone), "action": str(action)}
        case CallRequest(action, interphone):
            return {"t": "call", "sid": sid, "id": str(interphone), "action": str(action)}
        case SyncRequest() | MembersRequest() | PresenceSyncRequest():
            return {"t": "read", "sid": sid}
    raise ValueError(f"not a shared request: {body!r}")


def body_of(event: Event) -> (Login | JoinRequest | QuitRequest | SpeakRequest
                              | EmergencyRequest | CallRequest):
    kind = event["t"]
    if kind == "login":
        return Login(event["uid"], "", features=tuple(event.get("features", ())))
    interphone = InterphoneId.parse(event["id"])
    if kind == "join":
        return JoinRequest(interphone, event.get("member"))
    if kind == "quit":
        return QuitRequest(interphone, event.get("member"))
    if kind == "emergency":
        return EmergencyRequest(EmergencyAction(event["action"]), interphone)
    if kind == "call":
        return CallRequest(CallAction(event["action"]), interphone)
    return SpeakRequest(bool(event["on"]), interphone, queue=bool(event.get("queue")),
                        emergency=bool(event.get("emergency")))
