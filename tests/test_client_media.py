"""MediaEndpoint without a server: the receive path and the recvbegin handshake."""

from __future__ import annotations

from app.client import media as media_module
from app.client.media import MediaEndpoint
from app.protocol import AudioPacket

SERVER = ("127.0.0.1", 9401)


def test_receive_path_keeps_one_loss_meter_per_speaker(monkeypatch):
    made = []

    class CountingMeter(media_module.LossMeter):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(media_module, "LossMeter", CountingMeter)
    heard = []
    endpoint = MediaEndpoint(SERVER, "alice", lambda uid, seq, frame: heard.append((uid, seq)))
    endpoint._interphone = "group_58"
    for seq in range(50):
        for uid in ("bob", "carol"):
            data = AudioPacket("group_58", uid, seq, b"\xf8\xff\xfe").serialize()
            endpoint.datagram_received(data, SERVER)
    assert len(heard) == 100
    assert len(made) == 2  # not one allocation per packet
    assert endpoint.loss_by_speaker() == {"bob": 0.0, "carol": 0.0}

