"""The media-auth extension (app/protocol/media_crypto.py): authenticated recvbegin,
encrypted voice, nonces, key rotation, and refusal of forged, modified and replayed packets."""

from __future__ import annotations

import struct
import zlib
from itertools import count

import pytest

from app.protocol.errors import PacketError
from app.protocol.limits import MAX_DATAGRAM, MAX_OPUS_FRAME
from app.protocol.media_crypto import (
    KEY_BYTES,
    SECRET_BYTES,
    AuthRecvBegin,
    MediaAuthError,
    MediaKey,
    MediaPacketType,
    RecvBeginSigner,
    RecvBeginVerifier,
    SealedAudio,
    decode_b64,
    encode_b64,
    media_packet_type,
    new_secret,
    nonce_for,
    parse_media_packet,
    peek_sealed_route,
    seal_audio,
)
from app.protocol.media_keys import InterphoneKeys, ListenerKeys, ReplayWindow
from app.protocol.udp import AudioPacket, RecvBeginPacket

ID = "group_58"
OPUS = bytes(range(60))


def key(epoch: int = 1, fill: int = 7) -> MediaKey:
    return MediaKey(epoch, bytes([fill]) * KEY_BYTES)


def opened(keys: ListenerKeys, data: bytes, now: float = 0.0) -> bytes:
    packet = parse_media_packet(data)
    assert isinstance(packet, SealedAudio)
    return keys.open(packet, now)


def recrc(data: bytes) -> bytes:
    """Fix the crc after tampering, as an attacker would."""
    return struct.pack(">I", zlib.crc32(data[4:])) + data[4:]


# ---- packet layouts ----------------------------------------------------------------------------


def test_auth_recvbegin_layout_byte_by_byte() -> None:
    secret = bytes(SECRET_BYTES)
    data = AuthRecvBegin.sign(secret, "group_58", "alice", 7).serialize()
    body = (struct.pack(">I", 16) + struct.pack(">I", 8) + b"group_58" + struct.pack(">I", 5)
            + b"alice" + struct.pack(">I", 7))
    assert data[4:-16] == body
    assert data[:4] == struct.pack(">I", zlib.crc32(data[4:]))
    import hashlib
    import hmac
    expected = hmac.new(secret, b"interphone media-auth v1\x00" + body,
                        hashlib.sha256).digest()[:16]
    assert data[-16:] == expected


def test_sealed_audio_layout_byte_by_byte() -> None:
    k = key(epoch=3)
    data = seal_audio(k, "group_58", "alice", 9, 4, OPUS)
    header = (struct.pack(">I", 18) + struct.pack(">I", 8) + b"group_58" + struct.pack(">I", 5)
              + b"alice" + struct.pack(">III", 3, 9, 4))
    assert data[4 : 4 + len(header)] == header
    (length,) = struct.unpack_from(">I", data, 4 + len(header))
    assert length == len(OPUS) + 16 == len(data) - 8 - len(header)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    sealed = data[8 + len(header):]
    assert AESGCM(k.key).decrypt(struct.pack(">III", 3, 9, 4), sealed, header) == OPUS


def test_round_trips() -> None:
    packet = AuthRecvBegin.sign(new_secret(), "chat_a:b", "a", 1, ack=True)
    assert parse_media_packet(packet.serialize()) == packet
    sealed = parse_media_packet(seal_audio(key(), ID, "alice", 1, 0, OPUS))
    assert isinstance(sealed, SealedAudio)
    assert (sealed.id, sealed.uid, sealed.epoch, sealed.grant, sealed.seq) == (ID, "alice", 1, 1, 0)
    assert parse_media_packet(sealed.serialize()) == sealed


@pytest.mark.parametrize("mutate", [
    lambda d: d[:-1],                      # truncated
    lambda d: d + b"\x00",                 # trailing byte
    lambda d: d[:3],                       # shorter than the header
    lambda d: b"\x00\x00\x00\x00" + d[4:],  # crc 0 is not accepted in media-auth
    lambda d: d[:4] + d[4:-1] + bytes([d[-1] ^ 1]),  # crc mismatch
    lambda d: d + bytes(MAX_DATAGRAM),     # oversized
])
def test_malformed_packets_raise_packet_error(mutate) -> None:
    data = seal_audio(key(), ID, "alice", 1, 0, OPUS)
    with pytest.raises(PacketError):
        parse_media_packet(mutate(data))


def test_base_packets_are_not_media_auth_packets() -> None:
    plain = AudioPacket(ID, "alice", 0, OPUS).serialize()
    begin = RecvBeginPacket(ID, "alice").serialize()
    assert media_packet_type(plain) is None and media_packet_type(begin) is None
    with pytest.raises(PacketError, match="not a media-auth"):
        parse_media_packet(plain)
    assert media_packet_type(b"\x00" * 7) is None
    assert media_packet_type(b"\x00" * 4 + struct.pack(">I", 18)) is MediaPacketType.SEALED_AUDIO
    assert media_packet_type(bytes(4) + struct.pack(">I", 18) + bytes(MAX_DATAGRAM)) is None


def test_largest_opus_frame_fits_with_short_ids() -> None:
    data = seal_audio(key(), ID, "alice", 1, 0, bytes(MAX_OPUS_FRAME))
    assert len(data) <= MAX_DATAGRAM
    with pytest.raises(ValueError, match="exceeds"):
        seal_audio(key(), ID, "alice", 1, 0, bytes(MAX_OPUS_FRAME + 1))
    with pytest.raises(ValueError, match="exceeds 1400"):
        seal_audio(key(), "group_" + "x" * 58, "u" * 64, 1, 0, bytes(MAX_OPUS_FRAME))
    with pytest.raises(ValueError, match="unsigned 32-bit"):
        seal_audio(key(), ID, "alice", 1 << 32, 0, OPUS)


def test_peek_sealed_route_reads_the_header_only() -> None:
    data = seal_audio(key(epoch=5), ID, "alice", 11, 3, OPUS)
    assert peek_sealed_route(data) == (ID, "alice", 5, 11)
    assert peek_sealed_route(AudioPacket(ID, "alice", 0, OPUS).serialize()) is None
    assert peek_sealed_route(data[:20]) is None


def test_base64_attributes() -> None:
    secret = new_secret()
    assert decode_b64(encode_b64(secret), SECRET_BYTES) == secret
    with pytest.raises(ValueError, match="expected 32 bytes"):
        decode_b64(encode_b64(secret[:31]), SECRET_BYTES)
    with pytest.raises(ValueError, match="not base64"):
        decode_b64("@@@", SECRET_BYTES)


# ---- authenticated recvbegin -------------------------------------------------------------------


def test_recvbegin_signed_by_the_owner_is_accepted_once_and_acked() -> None:
    secret = new_secret()
    client, server = RecvBeginSigner(secret, "alice"), RecvBeginVerifier(secret, "alice")
    first = client.make(ID)
    packet = parse_media_packet(first)
    assert isinstance(packet, AuthRecvBegin)
    assert server.accept(packet)
    assert not server.accept(packet)  # replayed
    ack = parse_media_packet(server.ack(packet))
    assert isinstance(ack, AuthRecvBegin) and ack.ack
    assert client.accept_ack(ack)


def test_recvbegin_counter_only_moves_forward() -> None:
    secret = new_secret()
    client, server = RecvBeginSigner(secret, "alice"), RecvBeginVerifier(secret, "alice")
    older, newer = (parse_media_packet(client.make(ID)) for _ in range(2))
    assert isinstance(older, AuthRecvBegin) and isinstance(newer, AuthRecvBegin)
    assert server.accept(newer)
    assert not server.accept(older)  # reordered old one cannot move the address back


@pytest.mark.parametrize("forge", [
    lambda s: AuthRecvBegin.sign(new_secret(), ID, "alice", 1),        # other secret
    lambda s: AuthRecvBegin.sign(s, ID, "bob", 1),                     # other uid (hijack)
    lambda s: AuthRecvBegin.sign(s, ID, "alice", 1, ack=True),          # ack reflected
    lambda s: AuthRecvBegin(ID, "alice", 1, bytes(16)),                 # made-up mac
    lambda s: AuthRecvBegin(ID, "alice", 2, AuthRecvBegin.sign(s, ID, "alice", 1).mac),
    lambda s: AuthRecvBegin("group_59", "alice", 1, AuthRecvBegin.sign(s, ID, "alice", 1).mac),
])
def test_forged_recvbegins_are_refused(forge) -> None:
    secret = new_secret()
    server = RecvBeginVerifier(secret, "alice")
    packet = parse_media_packet(forge(secret).serialize())
    assert isinstance(packet, AuthRecvBegin)
    assert not server.accept(packet)


def test_client_refuses_reflected_forged_or_unasked_acks() -> None:
    secret = new_secret()
    client, server = RecvBeginSigner(secret, "alice"), RecvBeginVerifier(secret, "alice")
    sent = parse_media_packet(client.make(ID))
    assert isinstance(sent, AuthRecvBegin)
    assert not client.accept_ack(sent)  # its own packet reflected back
    assert not client.accept_ack(AuthRecvBegin.sign(new_secret(), ID, "alice", 1, ack=True))
    assert not client.accept_ack(AuthRecvBegin.sign(secret, ID, "alice", 99, ack=True))
    assert not client.accept_ack(AuthRecvBegin.sign(secret, "group_1", "alice", 1, ack=True))
    ack = parse_media_packet(server.ack(sent))
    assert isinstance(ack, AuthRecvBegin) and client.accept_ack(ack)


# ---- nonces, grants and keys -------------------------------------------------------------------


def test_nonces_never_repeat_across_utterances_and_grants() -> None:
    server = InterphoneKeys()
    key_a = server.rotate(ID)
    server.rotate("group_1")
    seen: set[bytes] = set()
    for utterance in range(50):
        target = ID if utterance % 2 else "group_1"
        grant = server.new_grant(target)
        for seq in range(40):  # seq restarts at 0 every utterance
            seen.add(nonce_for(key_a.epoch, grant, seq))
    assert len(seen) == 50 * 40
    # the same holder asking "on" again gets a new grant, so seq 0 is a new nonce
    assert server.new_grant(ID) != server.new_grant(ID)


def test_epochs_are_unique_and_keys_random_per_rotation() -> None:
    server = InterphoneKeys()
    keys = [server.rotate(ID) for _ in range(5)] + [server.rotate("group_1")]
    assert len({k.epoch for k in keys}) == len(keys)
    assert len({k.key for k in keys}) == len(keys)
    server.end(ID)
    assert server.current(ID) is None
    assert server.rotate(ID).epoch > keys[-1].epoch  # a restarted interphone gets a new epoch


def test_relay_check_wants_current_epoch_and_grant() -> None:
    server = InterphoneKeys()
    old = server.rotate(ID)
    grant = server.new_grant(ID)
    assert server.relay_allows(ID, old.epoch, grant)
    new = server.rotate(ID)  # a member left
    assert not server.relay_allows(ID, old.epoch, grant)
    assert server.relay_allows(ID, new.epoch, grant)
    assert not server.relay_allows(ID, new.epoch, grant - 1)
    server.release(ID)
    assert not server.relay_allows(ID, new.epoch, grant)
    assert not server.relay_allows("group_1", new.epoch, grant)


def test_encrypted_voice_round_trip_and_ciphertext_hides_the_frame() -> None:
    k = key()
    data = seal_audio(k, ID, "alice", 1, 0, OPUS)
    assert OPUS[:16] not in data
    listener = ListenerKeys()
    listener.install(ID, k, 0.0)
    assert opened(listener, data) == OPUS


def _tamper_cases() -> list:
    def flip(offset: int):
        return lambda d: recrc(d[:offset] + bytes([d[offset] ^ 0x01]) + d[offset + 1:])
    # header: type(4..8) id len(8..12) "group_58"(12..20) uid len(20..24) "alice"(24..29)
    # epoch(29..33) grant(33..37) seq(37..41) sealed len(41..45) sealed(45..)
    return [flip(13), flip(25), flip(36), flip(40), flip(50), flip(-1)]


@pytest.mark.parametrize("tamper", _tamper_cases())
def test_modified_packets_are_refused(tamper) -> None:
    listener = ListenerKeys()
    listener.install(ID, key(), 0.0)
    data = seal_audio(key(), ID, "alice", 1, 0, OPUS)
    with pytest.raises(PacketError):  # MediaAuthError is a PacketError
        opened(listener, tamper(data))
    assert opened(listener, data) == OPUS  # the genuine one still opens afterwards


def test_forged_packets_under_another_key_are_refused() -> None:
    listener = ListenerKeys()
    listener.install(ID, key(fill=1), 0.0)
    with pytest.raises(MediaAuthError, match="authentication failed"):
        opened(listener, seal_audio(key(fill=2), ID, "mallory", 1, 0, OPUS))
    with pytest.raises(MediaAuthError, match="no key"):
        opened(listener, seal_audio(key(epoch=2, fill=1), ID, "alice", 1, 0, OPUS))
    with pytest.raises(MediaAuthError, match="no key"):
        opened(listener, seal_audio(key(fill=1), "group_1", "alice", 1, 0, OPUS))


def test_replayed_packets_are_refused_and_reordering_tolerated() -> None:
    k = key()
    listener = ListenerKeys()
    listener.install(ID, k, 0.0)
    packets = [seal_audio(k, ID, "alice", 5, seq, bytes([seq])) for seq in range(100)]
    for seq in (0, 2, 1, 3):
        assert opened(listener, packets[seq]) == bytes([seq])
    for seq in (0, 1, 2, 3):
        with pytest.raises(MediaAuthError, match="replayed"):
            opened(listener, packets[seq])
    assert opened(listener, packets[99]) == bytes([99])
    assert opened(listener, packets[40]) == bytes([40])  # inside the window
    with pytest.raises(MediaAuthError, match="replayed"):
        opened(listener, packets[20])  # too old for the window


def test_a_new_grant_replaces_the_old_one() -> None:
    k = key()
    listener = ListenerKeys()
    listener.install(ID, k, 0.0)
    earlier = seal_audio(k, ID, "alice", 5, 7, OPUS)
    opened(listener, seal_audio(k, ID, "alice", 5, 0, OPUS))
    assert opened(listener, seal_audio(k, ID, "bob", 6, 0, OPUS)) == OPUS
    with pytest.raises(MediaAuthError, match="replayed or stale"):
        opened(listener, earlier)  # replay of an earlier utterance


def test_rotation_on_leave_locks_out_the_former_member() -> None:
    server = InterphoneKeys()
    alice, bob, carol = ListenerKeys(), ListenerKeys(), ListenerKeys()
    first = server.rotate(ID)
    for member in (alice, bob, carol):
        member.install(ID, first, 0.0)
    grant = server.new_grant(ID)
    before = seal_audio(first, ID, "alice", grant, 0, b"before")
    assert opened(carol, before) == b"before"
    second = server.rotate(ID)  # carol left: only alice and bob get the new key
    alice.install(ID, second, 1.0)
    bob.install(ID, second, 1.0)
    after = seal_audio(second, ID, "alice", grant, 1, b"after")
    assert opened(bob, after, 1.0) == b"after"
    with pytest.raises(MediaAuthError):
        opened(carol, after, 1.0)


def test_rotation_on_join_hides_the_past_from_the_newcomer() -> None:
    server = InterphoneKeys()
    first = server.rotate(ID)
    grant = server.new_grant(ID)
    before = seal_audio(first, ID, "alice", grant, 0, b"before")
    newcomer = ListenerKeys()
    newcomer.install(ID, server.rotate(ID), 5.0)  # the join response carries the new key
    with pytest.raises(MediaAuthError, match="no key"):
        opened(newcomer, before, 5.0)


def test_previous_key_opens_in_flight_packets_for_the_grace_period_only() -> None:
    first, second = key(1, 1), key(2, 2)
    listener = ListenerKeys(grace=2.0)
    listener.install(ID, first, 0.0)
    in_flight = seal_audio(first, ID, "alice", 1, 3, OPUS)
    late = seal_audio(first, ID, "alice", 1, 4, OPUS)
    listener.install(ID, second, 10.0)
    assert listener.sending_key(ID) == second
    assert opened(listener, in_flight, 11.0) == OPUS
    with pytest.raises(MediaAuthError, match="no key"):
        opened(listener, late, 12.5)


def test_reinstalling_the_same_key_keeps_replay_state() -> None:
    k = key()
    listener = ListenerKeys()
    listener.install(ID, k, 0.0)
    data = seal_audio(k, ID, "alice", 1, 0, OPUS)
    opened(listener, data)
    listener.install(ID, key(), 1.0)
    with pytest.raises(MediaAuthError, match="replayed"):
        opened(listener, data, 1.0)


def test_forgotten_interphone_opens_nothing() -> None:
    listener = ListenerKeys()
    listener.install(ID, key(), 0.0)
    listener.forget(ID)
    with pytest.raises(MediaAuthError):
        opened(listener, seal_audio(key(), ID, "alice", 1, 0, OPUS))
    assert listener.sending_key(ID) is None


def test_listener_state_is_bounded() -> None:
    listener = ListenerKeys(max_interphones=4, grace=100.0)
    epochs = count(1)
    for n in range(50):
        for _ in range(10):  # a hostile server rotating fast
            listener.install(f"group_{n}", key(next(epochs)), 0.0)
    assert len(listener._states) == 4
    assert all(len(e) <= 4 for e in listener._states.values())
    assert listener.sending_key("group_49") is not None
    assert listener.sending_key("group_0") is None


def test_replay_window_table() -> None:
    window = ReplayWindow(size=4)
    verdicts = []
    for n in (0, 1, 1, 5, 2, 3, 4, 4, 9, 6, 5, 100):
        fresh = window.fresh(n)
        verdicts.append(fresh)
        if fresh:
            window.record(n)
    assert verdicts == [True, True, False, True, True, True, True, False, True, True,
                        False, True]


def test_key_and_secret_sizes_are_enforced() -> None:
    with pytest.raises(ValueError):
        MediaKey(1, b"short")
    with pytest.raises(ValueError, match="unsigned 32-bit"):
        MediaKey(1 << 32, bytes(KEY_BYTES))
    with pytest.raises(ValueError):
        RecvBeginSigner(b"short", "alice")
