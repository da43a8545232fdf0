"""interphone-cli as a user runs it: subprocesses against the real embedded server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from client_fixtures import (
    Clients,
    best_lag,
    free_port,
    noise_bursts,
    running_server,
    wait_until,
)

from app.audio.resample import resample
from app.audio.wavio import read_wav, write_wav
from app.client import InterphoneClient
from app.headless.mix_clock import MixClock
from app.headless.talker import split_frames, transmit_pcm
from app.protocol import InterphoneId

ROOT = Path(__file__).resolve().parent.parent
G58 = InterphoneId.group("58")

pytest_plugins = ["client_fixtures"]


async def cli(*args: str, port: int | None = None, uid: str | None = "alice",
              timeout: float = 15.0) -> tuple[int, str, str]:
    proc = await start_cli(*args, port=port, uid=uid)
    out, err = await finished(proc, timeout)
    return proc.returncode, out.decode(), err.decode()


async def finished(proc: asyncio.subprocess.Process, timeout: float) -> tuple[bytes, bytes]:
    """``proc``'s output once it has exited; killed and reaped when it has not within
    ``timeout`` (a process left running would fail a later test as it is collected)."""
    try:
        return await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise


async def start_cli(*args: str, port: int | None = None,
                    uid: str | None = "alice") -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}
    if uid is not None:
        env["INTERPHONE_UID"] = uid
        env["INTERPHONE_TOKEN"] = f"pw-{uid}"
    common = ["--server", f"127.0.0.1:{port}"] if port is not None else []
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", *common, *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def bob_listening(clients: Clients, port: int, wav: Path, *args: str
                        ) -> tuple[InterphoneClient, asyncio.subprocess.Process]:
    """alice in Ops, and ``interphone-cli listen`` as bob there recording to ``wav``, once
    alice sees him in: (alice, the CLI's process)."""
    alice = await clients.connect(port, "alice")
    await alice.join(G58)
    proc = await start_cli("listen", "group_58", "--wav", str(wav), *args, port=port, uid="bob")
    await wait_until(lambda: "bob" in alice.model.members, timeout=5, what="listener in")
    return alice, proc


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["--frame-ms", "30", "sync"],
        ["--bitrate", "lots", "sync"],
        ["--server", "localhost:99999", "sync"],
        ["--server", "", "sync"],  # an unset variable: not quietly this machine
        ["--server", " ", "sync"],
        ["members"],
        ["members", "not-an-id"],
        ["talk", "group_58"],
        ["listen", "group_58", "--wav", "x.wav", "--seconds", "-1"],
    ],
)
async def test_bad_arguments_are_usage_errors(args):
    code, out, err = await cli(*args)
    assert code == 2
    assert "usage:" in err and "Traceback" not in err
    assert out == ""


async def test_uid_is_required():
    code, _, err = await cli("sync", uid=None)
    assert code == 2 and "--uid is required" in err


async def test_connection_refused_is_one_clear_line():
    port = free_port()
    code, out, err = await cli("sync", port=port)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"interphone-cli: error: cannot reach 127.0.0.1:{port}: Connection refused (nothing "
        "listens there: check the address and port in --server, and that interphone-server "
        "runs)"]


async def test_a_port_that_is_not_an_interphone_server_is_said_so():
    """A web server's port answered "HTTP/1.1 400": the CLI said "server sent an oversized
    frame: frame length 1213486160 ...", with no hint of the wrong address (and after a
    warning of the session saying the same)."""

    async def web_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client goes
        writer.close()

    server = await asyncio.start_server(web_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        code, out, err = await cli("sync", port=port)
    finally:
        server.close()
        await server.wait_closed()
    assert code == 1 and out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith(
        f"interphone-cli: error: 127.0.0.1:{port} does not answer as an Interphone server ("
    ), err
    assert len(lines) == 1, err  # not also the session's warning of the same frame


async def test_login_refused(clients):
    async with running_server() as server:
        code, _, err = await cli("--token", "nope", "sync", port=server.port)
    assert code == 1
    assert err.strip().splitlines() == [  # not "...: login refused" twice
        "interphone-cli: error: login refused for 'alice': wrong uid or token"]


async def test_a_login_refused_for_want_of_encrypted_voice_says_try_tls(clients):
    """A server whose media_encryption = "required" refused the plain-text CLI (which asks
    for encrypted voice over TLS only) with "login refused for 'alice': media-auth
    required", which did not tell the user what to do."""
    async with running_server(media_encryption="required") as server:
        code, _, err = await cli("sync", port=server.port)
    assert code == 1
    assert err.strip().splitlines() == [
        "interphone-cli: error: login refused for 'alice': media-auth required: the server "
        "demands encrypted voice (media_encryption = \"required\"), which this client asks "
        "for over TLS only: try --tls"]


async def test_login_refused_without_a_token_says_none_was_given(clients):
    """``--uid bob`` alone (no --token, $INTERPHONE_TOKEN unset) was refused as "wrong uid
    or token", with nothing saying that no token had been given at all."""
    async with running_server() as server:
        code, _, err = await cli("--uid", "bob", "sync", port=server.port, uid=None)
    assert code == 1
    assert err.strip().splitlines() == [
        "interphone-cli: error: login refused for 'bob': wrong uid or token"
        " (no token was given: --token or $INTERPHONE_TOKEN)"]


async def test_sync_and_members_print_json(clients):
    # bob holds the floor without sending audio while two CLI processes start, which on a
    # loaded machine took longer than the usual 5 s silence timeout
    async with running_server(silence_timeout=60) as server:
        bob = await clients.connect(server.port, "bob")
        await bob.join(G58)
        await bob.talk_start()
        code, out, err = await cli("sync", port=server.port)
        assert code == 0, err
        assert json.loads(out) == [{"id": "group_58", "attach_type": "group",
                                    "attach_id": "58", "member_count": 1, "speaker": "bob"}]
        code, out, err = await cli("members", "group_58", port=server.port)
        assert code == 0, err
        data = json.loads(out)
        assert data["members"] == ["bob"] and data["speaker"] == "bob"
        code, out, _ = await cli("members", "discuss_12", port=server.port)
        assert json.loads(out)["member_count"] == 0 and json.loads(out)["members"] == []


async def test_talk_on_a_busy_floor_fails_clearly(clients, tmp_path):
    wav = tmp_path / "in.wav"
    write_wav(wav, noise_bursts(0.2))
    async with running_server() as server:
        bob = await clients.connect(server.port, "bob")
        await bob.join(G58)
        await bob.talk_start()
        code, _, err = await cli("talk", "group_58", "--wav", str(wav), port=server.port)
    assert code == 1
    assert err.strip().splitlines()[-1] == \
        "interphone-cli: error: floor busy: bob is speaking in group_58"


async def test_talk_says_when_nobody_else_was_there_to_hear_it(clients, tmp_path):
    """Talking into a chat with someone offline printed "sent 0.20 s ..." and nothing
    else: it looked delivered."""
    wav = tmp_path / "in.wav"
    write_wav(wav, noise_bursts(0.2))
    async with running_server() as server:
        code, out, err = await cli("talk", "chat_alice:bob", "--wav", str(wav),
                                   port=server.port)
        assert code == 0, err
        assert out.startswith("sent 0.20 s") and "to chat_alice:bob" in out
        assert err.strip().splitlines() == ["nobody else was in chat_alice:bob to hear it"]
        bob = await clients.connect(server.port, "bob")
        await bob.join(G58)
        code, out, err = await cli("talk", "group_58", "--wav", str(wav), port=server.port)
    assert code == 0 and out.startswith("sent 0.20 s") and err == ""


@pytest.mark.parametrize("content", [b"", b"hello, not audio\n" * 10, b"RIFF\x00\x00"])
async def test_talk_rejects_a_file_that_is_not_audio(tmp_path, content):
    path = tmp_path / "notes.wav"
    path.write_bytes(content)
    code, _, err = await cli("talk", "group_58", "--wav", str(path), port=free_port())
    assert code == 1
    assert "not a readable WAV" in err or "holds no audio" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


async def test_talk_missing_file(tmp_path):
    code, _, err = await cli("talk", "group_58", "--wav", str(tmp_path / "nope.wav"),
                             port=free_port())
    assert code == 1 and "no such file" in err


def _write_stereo_44k(path: Path, pcm: np.ndarray) -> None:
    pcm44 = resample(pcm, 48000, 44100)
    stereo = np.stack([pcm44, pcm44], axis=1)
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(2)
        wf.setsampwidth(2)
        wf.setframerate(44100)
        wf.writeframes((np.clip(stereo, -1, 1) * 32767).astype("<i2").tobytes())


async def test_talk_streams_a_converted_file_in_real_time(clients, tmp_path):
    signal_in = noise_bursts(1.0, seed=7)
    wav = tmp_path / "stereo44.wav"
    _write_stereo_44k(wav, signal_in)
    async with running_server() as server:
        bob = await clients.connect(server.port, "bob")
        await bob.join(G58)
        recorded: list[np.ndarray] = []
        clock = MixClock(recorded.append, 20)
        bob.on_audio = clock.on_audio
        listening = asyncio.ensure_future(clock.run(None))
        try:
            code, out, err = await cli("talk", "group_58", "--wav", str(wav), port=server.port)
            await asyncio.sleep(0.2)
        finally:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
    assert code == 0, err
    assert out.startswith("sent 1.00 s (50 frames of 20 ms) to group_58")
    lag, corr = best_lag(signal_in, np.concatenate(recorded))
    assert corr > 0.4, (corr, lag, clock.frames_with_audio)


async def test_listen_records_what_is_said_with_the_silence(clients, tmp_path):
    signal_in = noise_bursts(0.8, seed=9)
    out_wav = tmp_path / "heard.wav"
    async with running_server() as server:
        alice, proc = await bob_listening(clients, server.port, out_wav, "--seconds", "2.5")
        await asyncio.sleep(0.5)
        await alice.talk_start()
        await transmit_pcm(alice, signal_in)
        await alice.talk_stop()
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    assert "wrote 2.50 s" in out.decode()
    with wave.open(str(out_wav)) as wf:
        assert (wf.getframerate(), wf.getnchannels(), wf.getsampwidth()) == (48000, 1, 2)
    heard = read_wav(out_wav)
    assert len(heard) == 2.5 * 48000
    lag, corr = best_lag(signal_in, heard)
    assert corr > 0.4, (corr, lag)
    assert lag > 0.4 * 48000  # the silence before the utterance is kept
    assert np.abs(heard[: int(0.3 * 48000)]).max() < 1e-3
    quality_lines = [line for line in err.decode().splitlines() if line.startswith("{")]
    assert len(quality_lines) == 1  # the last thing on stderr: quality per speaker
    alice_heard = json.loads(quality_lines[0])["quality"]["alice"]
    sent = len(split_frames(signal_in, 20))
    assert sent - 3 <= alice_heard["packets"] <= sent  # loopback under load may lose one
    assert alice_heard["loss_pct"] <= 5.0
    assert {"jitter_ms", "fec_recovered"} <= set(alice_heard)


async def test_listen_finalizes_the_wav_on_ctrl_c(clients, tmp_path):
    out_wav = tmp_path / "heard.wav"
    async with running_server() as server:
        alice, proc = await bob_listening(clients, server.port, out_wav)
        await asyncio.sleep(0.4)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
        await wait_until(lambda: alice.model.members == ("alice",), what="listener left")
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert out.decode().startswith("wrote ")
    assert '{"quality": {}}' in err.decode()  # nobody spoke
    heard = read_wav(out_wav)  # a valid, finalized file
    assert 0.2 * 48000 < len(heard) < 3 * 48000
    assert np.abs(heard).max() == 0.0


async def test_bot_echoes_and_stops_on_sigterm(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(G58)
        proc = await start_cli("bot", "group_58", port=server.port, uid="bob")
        await wait_until(lambda: "bob" in alice.model.members, timeout=5, what="bot in")
        # Membership comes before the bot's media registration (recvbegin): talking in
        # between would reach nobody (a race seen under load).
        await wait_until(lambda: "bob" in server.state.interphones[G58].addrs, timeout=5,
                         what="the bot's media address registered")
        heard: list[int] = []
        alice.on_audio = lambda uid, seq, payload: heard.append(seq)
        await alice.talk_start()
        await transmit_pcm(alice, noise_bursts(0.3))
        await alice.talk_stop()
        await wait_until(lambda: len(heard) >= 15, timeout=5, what="the echo")
        await wait_until(lambda: alice.model.speaker == "", timeout=5, what="echo ends")
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    assert "EchoBot spoke once" in out.decode()
    assert heard[0] == 0


async def test_talk_reports_a_revoked_floor(tmp_path):
    wav = tmp_path / "long.wav"
    write_wav(wav, noise_bursts(2.0))
    async with running_server(max_talk=0.5) as server:
        code, _, err = await cli("talk", "group_58", "--wav", str(wav), port=server.port)
    assert code == 1
    assert "floor lost after 0." in err and "of 2.0 s" in err and "Traceback" not in err


async def test_listen_stops_when_kicked(clients, tmp_path):
    out_wav = tmp_path / "heard.wav"
    async with running_server() as server:
        _watcher, proc = await bob_listening(clients, server.port, out_wav)
        await clients.connect(server.port, "bob")  # same uid elsewhere: the CLI is kicked
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 1
    assert "session ended (kicked: login_elsewhere)" in err.decode()
    # said once: the client library's own line about the kick is not a warning on stderr
    assert [line for line in err.decode().splitlines() if "login_elsewhere" in line] == \
        ["interphone-cli: error: session ended (kicked: login_elsewhere)"]
    read_wav(out_wav)  # still a valid file


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
async def test_listen_into_a_full_disk_is_one_clear_line(clients):
    async with running_server() as server:
        code, _, err = await cli("listen", "group_58", "--wav", "/dev/full", "--seconds", "0.2",
                                 port=server.port)
    assert code == 1
    assert err.strip().splitlines()[-1] == \
        "interphone-cli: error: /dev/full: cannot write (No space left on device)"
    assert "Traceback" not in err


async def test_listen_into_a_missing_folder_is_one_clear_line(tmp_path):
    target = tmp_path / "no-such-folder" / "out.wav"
    code, out, err = await cli("listen", "group_58", "--wav", str(target), "--seconds", "0.2",
                               port=free_port())
    assert code == 1 and out == ""
    # one line: no "Exception ignored ... AttributeError" from a half-made wave writer
    assert err.strip().splitlines() == [
        f"interphone-cli: error: {target}: cannot write (No such file or directory)"]


def test_codec_failure_is_one_clear_line(monkeypatch, capsys):
    from app.audio.codec import CodecError
    from app.cli import __main__ as cli_main

    async def no_opus(args):
        raise CodecError("libopus is not available: not found")

    monkeypatch.setitem(cli_main.COMMANDS, "sync", no_opus)
    assert cli_main.main(["--uid", "alice", "sync"]) == 1
    assert capsys.readouterr().err == \
        "interphone-cli: error: audio codec: libopus is not available: not found\n"


@pytest.mark.parametrize("command", ["members", "talk", "emergency", "listen", "bot"])
async def test_every_command_help_says_what_an_id_looks_like(command):
    """`interphone-cli talk --help` listed a bare "ID" with no word on its form."""
    code, out, _ = await cli(command, "--help")
    assert code == 0
    assert "group_ID, discuss_ID or chat_UID:UID" in " ".join(out.split())


async def test_a_refused_request_is_worded_for_a_user(clients):
    """A join the server refuses read "JoinRequest: error 403: ..." (a class name)."""
    async with running_server() as server:
        code, _, err = await cli("members", "group_99", port=server.port)
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("interphone-cli: error: the server refused ")
    assert "Request" not in err and "(error 403)" in err


async def test_ctrl_c_during_talk_says_so_in_one_line(clients, tmp_path):
    """Ctrl-C while `talk` sent its file ended with exit code 130 and not a word: the
    user could not tell an interruption from a crash or a finished send."""
    wav = tmp_path / "long.wav"
    write_wav(wav, noise_bursts(8.0))
    async with running_server() as server:
        proc = await start_cli("talk", "group_58", "--wav", str(wav), port=server.port)
        await wait_until(lambda: server.state.interphones.get(G58) is not None
                         and server.state.interphones[G58].holder == "alice",
                         timeout=10, what="the floor granted")
        await asyncio.sleep(0.5)  # some of it sent
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
        await wait_until(lambda: G58 not in server.state.interphones, what="left")
    assert proc.returncode == 130
    assert out.decode() == ""
    [line] = err.decode().splitlines()  # and how much went out, as a finished send says
    assert re.fullmatch(r"interphone-cli: interrupted after \d+\.\d\d s of 8\.00 s sent to "
                        r"group_58", line), line
    assert not line.endswith("after 0.00 s of 8.00 s sent to group_58")


async def test_an_ipv6_address_in_an_error_is_in_brackets():
    """``--server ::1:9471`` is the IPv6 address ::1:9471 on the default port (a port
    needs brackets: ``[::1]:9471``), and the error said "cannot reach ::1:9471:9400",
    where nobody could tell the address from the port."""
    code, out, err = await cli("--server", "::1:9471", "sync", timeout=30)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "interphone-cli: error: cannot reach [::1:9471]:9400: "), err


async def test_listen_says_when_the_connection_is_lost_and_when_it_is_back(tmp_path):
    """The server went away during `listen`: it reconnected and joined again on its own,
    recording silence meanwhile, with not a word on stderr either way."""
    out_wav = tmp_path / "heard.wav"
    async with running_server() as server:
        port = server.port
        proc = await start_cli("listen", "group_58", "--wav", str(out_wav), port=port,
                               uid="bob")
        assert proc.stderr is not None  # its join answered (the line), then the server goes
        first = (await asyncio.wait_for(proc.stderr.readline(), 10)).decode().rstrip("\n")
    said = [first]
    async with running_server(port=port) as server:  # the same address, a moment later
        await wait_until(lambda: G58 in server.state.interphones, timeout=20,
                         what="listener back")
        while not said[-1].startswith("reconnected"):  # (its join done, audio registered)
            said.append((await asyncio.wait_for(proc.stderr.readline(), 10)).decode()
                        .rstrip("\n"))
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    lines = [*said, *err.decode().splitlines()]
    assert lines[0] == f"listening to group_58, recording to {out_wav}"
    assert lines[1].startswith("connection lost") and lines[1].endswith(": reconnecting")
    assert lines[2] == "reconnected: back in group_58"
    assert out.decode().startswith("wrote ")
