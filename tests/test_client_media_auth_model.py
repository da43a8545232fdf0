"""A model-based (stateful) test of the media-auth listener (app/client/media_auth.py)
against docs/protocol-extensions.md, media-auth section 7 and the key lifetimes of
section 3: a sealed audio packet is heard only from the server's media address, not our
own, for an interphone we are in, under a key we hold (the current one, or one it replaced
less than 2 seconds ago), with a tag that verifies, and fresh: per key, no grant below the
greatest accepted, and within it no seq accepted before nor more than 63 below the
greatest. A packet that fails changes nothing.

Sized by tests/fuzzing.py.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from fuzzing import fuzz_machine
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app.client.media_auth import ClientMediaAuth, HeardAudio
from app.protocol.media_crypto import MediaKey, encode_b64, seal_audio

SERVER = ("127.0.0.1", 9400)
ME = "bob"
IDS = ("group_58", "discuss_12", "chat_alice:bob")
GRACE = 2.0
MAX_RETIRED = 3
"""The listener opens at most this many replaced keys of one interphone during their grace
(a bound of this implementation against a server rotating without end)."""
WINDOW = 64


@dataclass
class _Key:
    key: MediaKey
    retired_at: float | None = None
    grant: int = -1
    seqs: set[int] = field(default_factory=set)


def _forged(packet: bytes) -> bytes:
    """``packet`` with one sealed byte flipped and its crc made right again."""
    body = packet[4:-1] + bytes([packet[-1] ^ 0x01])
    return struct.pack(">I", zlib.crc32(body)) + body


class ListenerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.client = ClientMediaAuth(ME, bytes(32), SERVER, key_grace=GRACE)
        self.now = 100.0
        self.epochs = 0
        self.keys: dict[str, dict[int, _Key]] = {}
        self.current: dict[str, int] = {}
        self.heard: list[tuple[bytes, HeardAudio]] = []

    # ---- the signaling connection -------------------------------------------------------

    @rule(interphone=st.sampled_from(IDS), seed=st.integers(0, 255))
    def key_installed(self, interphone: str, seed: int) -> None:
        """A join response or a rotation: a new key under a new epoch."""
        self.epochs += 1
        key = MediaKey(self.epochs, bytes([seed]) * 31 + bytes([self.epochs % 256]))
        self.client.install_key(interphone, key.epoch, encode_b64(key.key), self.now)
        keys = self.keys.setdefault(interphone, {})
        previous = self.current.get(interphone)
        if previous is not None:
            keys[previous].retired_at = self.now
        keys[key.epoch] = _Key(key)
        self.current[interphone] = key.epoch

    @rule(interphone=st.sampled_from(IDS))
    def left(self, interphone: str) -> None:
        self.client.left(interphone)
        self.keys.pop(interphone, None)
        self.current.pop(interphone, None)

    @rule(seconds=st.sampled_from([0.1, 0.7, 1.5, 2.5, 3.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    # ---- datagrams ----------------------------------------------------------------------

    def _holds(self, interphone: str, epoch: int) -> _Key | None:
        keys = self.keys.get(interphone, {})
        state = keys.get(epoch)
        if state is None or state.retired_at is None:
            return state
        if self.now - state.retired_at > GRACE:
            return None
        # (only the last few replaced keys; retired_at ties broken by epoch, as installed)
        retired = sorted(((k.retired_at, e) for e, k in keys.items()
                          if k.retired_at is not None), reverse=True)
        return state if (state.retired_at, epoch) in retired[:MAX_RETIRED] else None

    def _fresh(self, state: _Key, grant: int, seq: int) -> bool:
        if grant != state.grant:
            return grant > state.grant
        top = max(state.seqs)
        return seq not in state.seqs and top - seq < WINDOW

    @rule(interphone=st.sampled_from(IDS), epoch_back=st.sampled_from([0, 0, 0, 1, 1, 2, 4, -1]),
          grant=st.integers(1, 4), seq=st.sampled_from([0, 1, 2, 3, 5, 40, 63, 64, 65, 70, 200]),
          speaker=st.sampled_from(["alice", "alice", "alice", ME]),
          tamper=st.sampled_from(["", "", "", "", "forged", "key"]),
          from_server=st.sampled_from([True, True, True, True, False]))
    def sealed_audio(self, interphone: str, epoch_back: int, grant: int, seq: int,
                     speaker: str, tamper: str, from_server: bool) -> None:
        """Sealed audio under the current key (or an older one, or one never given)."""
        epoch = self.current.get(interphone, self.epochs + 1) - epoch_back
        if epoch < 1:
            return
        state = self.keys.get(interphone, {}).get(epoch)
        key = state.key if state is not None else MediaKey(epoch, bytes(32))
        if tamper == "key":
            key = MediaKey(epoch, bytes(31) + b"\x01")
        packet = seal_audio(key, interphone, speaker, grant, seq, b"opus")
        if tamper == "forged":
            packet = _forged(packet)
        held = self._holds(interphone, epoch)
        expected = (from_server and speaker != ME and held is not None and not tamper
                    and key == held.key and self._fresh(held, grant, seq))
        source = SERVER if from_server else ("127.0.0.1", 9401)
        result = self.client.datagram(packet, source, self.now)
        assert (result is not None) == expected, (interphone, epoch, grant, seq, speaker,
                                                  tamper, from_server, result)
        if expected:
            assert held is not None
            assert result == HeardAudio(interphone, speaker, grant, seq, b"opus")
            if grant > held.grant:
                held.grant, held.seqs = grant, set()
            held.seqs.add(seq)
            self.heard.append((packet, result))

    @precondition(lambda self: bool(self.heard))
    @rule(data=st.data())
    def replayed(self, data: st.DataObject) -> None:
        """A packet heard before, sent again (by the network or an attacker): never heard
        twice."""
        packet, _ = data.draw(st.sampled_from(self.heard))
        assert self.client.datagram(packet, SERVER, self.now) is None

    @invariant()
    def talks_only_with_a_key(self) -> None:
        for interphone in IDS:
            self.client.floor_granted(interphone, 7)
            assert self.client.can_talk(interphone) == (interphone in self.current)
            self.client.floor_released(interphone)
            assert not self.client.can_talk(interphone)


TestListenerMachine = fuzz_machine(ListenerMachine)
