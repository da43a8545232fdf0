"""The systemd unit the interphone-server .deb installs
(packaging/systemd/interphone-server.service), read and checked with ``systemd-analyze
verify`` where it is installed (no systemd needs to run)."""

from __future__ import annotations

import asyncio
import configparser
import ctypes.util
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from server_fixtures import RawClient, UdpPeer

from app.client.trust import TrustPolicy, client_context
from app.protocol import InterphoneId
from app.protocol.udp import AudioPacket, RecvBeginPacket, parse_packet
from app.server.fanout import MIN_TARGETS
from tests.redis_fixtures import RedisProcess, free_port, redis_server  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "packaging" / "systemd" / "interphone-server.service"
EXECUTABLE = "/opt/interphone-server/interphone-server"  # where the .deb puts it


def service_section() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return dict(parser["Service"])


def test_a_bad_configuration_is_not_restarted_over_and_over(tmp_path: Path) -> None:
    """``Restart=on-failure`` restarted a server that exits 2 for a bad directory file every
    2 s until systemd's start limit, burying its one error line in the journal."""
    bad = tmp_path / "directory.toml"
    bad.write_text("[server]\nmax_talk = 'thirty'\n")
    result = subprocess.run([sys.executable, "-m", "app.server", "--config", str(bad),
                             "--port", "0"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "line 2" in result.stderr
    service = service_section()
    assert service["Restart"] == "on-failure"
    assert "2" in service.get("RestartPreventExitStatus", "").split()


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    fake = tmp_path / "interphone-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(EXECUTABLE, str(fake)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def unit_section() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return dict(parser["Unit"])


def test_a_slow_redis_at_boot_does_not_make_the_unit_give_up() -> None:
    """With RestartSec=2 and systemd's default start limit (5 starts in 10 s), a Redis that
    took more than ~10 s at boot left the unit failed for good."""
    unit, service = unit_section(), service_section()
    interval = unit.get("StartLimitIntervalSec", "10s")
    burst = int(unit.get("StartLimitBurst", "5"))
    restart = float(service["RestartSec"].rstrip("s"))
    # no start limit at all, or one that a minute of retries does not reach
    assert interval in ("0", "infinity") or burst * restart > 60, (interval, burst, restart)
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"].split() == ["2"]
    assert "redis-server.service" in unit["After"].split()  # (a Redis on this machine)


HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces": "yes",
    "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native", "CapabilityBoundingSet": "", "UMask": "0077",
    "DynamicUser": "yes", "StateDirectory": "interphone",
}


def test_the_unit_is_sandboxed() -> None:
    service = service_section()
    assert {key: service.get(key) for key in HARDENING} == HARDENING
    assert "AmbientCapabilities" not in service  # (documented for a port under 1024)


def test_systemd_rates_the_sandbox_ok(tmp_path: Path) -> None:
    """``systemd-analyze security --offline`` rated the unit 7.2 MEDIUM."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(EXECUTABLE, "/bin/true"))
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                             "--threshold=30", str(unit)],  # (in tenths: 3.0)
                            capture_output=True, text=True, timeout=60)
    if "--offline" in result.stderr or "unrecognized option" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


SANDBOX = """\
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE
    sys.exit(77)
allowed = sys.argv[1]
if allowed:  # SystemCallFilter= (allow list) with SystemCallErrorNumber=EPERM, by libseccomp
    seccomp = ctypes.CDLL("libseccomp.so.2")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    context = ctypes.c_void_p(seccomp.seccomp_init(ctypes.c_uint32(0x00050000 | 1)))
    for name in open(allowed).read().split():
        number = seccomp.seccomp_syscall_resolve_name(name.encode())
        if number >= 0:
            seccomp.seccomp_rule_add(context, ctypes.c_uint32(0x7FFF0000), number, 0)
    if seccomp.seccomp_load(context) != 0:
        sys.exit(78)
os.execv(sys.executable, [sys.executable, "-m", "app.server", *sys.argv[2:]])
"""


def system_calls(group: str, seen: set[str] | None = None) -> set[str]:
    """The system calls of a ``SystemCallFilter=`` group, as ``systemd-analyze
    syscall-filter`` lists them (groups in it expanded)."""
    seen = seen if seen is not None else set()
    seen.add(group)
    listing = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True,
                             text=True, timeout=60, check=True).stdout.splitlines()[1:]
    names: set[str] = set()
    for line in (line.strip() for line in listing):
        if line.startswith("@") and line not in seen:
            names |= system_calls(line, seen)
        elif line and not line.startswith(("#", "@")):
            names.add(line)
    return names


MDWE_DIRECTORY = """\
[server]
auth = "open"
media_encryption = "off"

[[groups]]
id = "all"
name = "Everyone"
members = ["*"]
"""


async def test_the_server_runs_in_the_units_memory_and_system_call_sandbox(
        tmp_path: Path, redis_server: RedisProcess) -> None:  # noqa: F811
    """MemoryDenyWriteExecute=yes kills a process that maps memory writable and executable
    (a libffi callback without static trampolines, a JIT), and SystemCallFilter= refuses
    every other system call. Under the kernel's PR_SET_MDWE (the same rule) and, where
    systemd-analyze and libseccomp are installed, the unit's system call allow list, the
    server makes its self-signed certificate, talks to Redis, logs in TLS sessions, relays
    voice to enough listeners for sendmmsg, serves its metrics, reloads its directory
    and stops cleanly."""
    if sys.platform != "linux":
        pytest.skip("Linux only")
    allowed = ""
    if shutil.which("systemd-analyze") and ctypes.util.find_library("seccomp"):
        names: set[str] = set()
        for group in service_section()["SystemCallFilter"].split():
            names |= system_calls(group) if group.startswith("@") else {group}
        (tmp_path / "allowed").write_text("\n".join(sorted(names)))
        allowed = str(tmp_path / "allowed")
    metrics_port = free_port()
    config = tmp_path / "directory.toml"
    config.write_text(MDWE_DIRECTORY)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SANDBOX, allowed, "--config", str(config), "--host", "127.0.0.1",
        "--port", "0", "--tls-self-signed", str(tmp_path / "tls"),
        "--metrics", f"127.0.0.1:{metrics_port}",
        "--store", redis_server.url, cwd=ROOT, stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    log: list[str] = []
    try:
        port = 0
        while not port:
            raw = await asyncio.wait_for(process.stderr.readline(), 30)
            if not raw:
                code = await process.wait()
                if code == 77:
                    pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
                if code == 78:
                    pytest.skip("no seccomp filter can be loaded here")
                raise AssertionError(f"exit {code}: " + "".join(log))
            log.append(raw.decode())
            if match := re.search(r"serving on \S+ port (\d+)", log[-1]):
                port = int(match.group(1))
        pin = re.search(r"fingerprint (\S+)", "".join(log))
        assert pin is not None, log
        tls = client_context(TrustPolicy(pin=pin.group(1)))
        group = InterphoneId.group("all")
        members: list[tuple[RawClient, UdpPeer]] = []
        for n in range(MIN_TARGETS + 2):
            client = await RawClient.connect(port, tls=tls)
            await client.login(f"u{n}", "any")
            await client.join(group)
            peer = await UdpPeer.open(port)
            peer.send(RecvBeginPacket(str(group), f"u{n}").serialize())
            await peer.recv(timeout=5)
            members.append((client, peer))
        talker, talker_udp = members[0]
        assert (await talker.speak(group)).ok
        talker_udp.send(AudioPacket(str(group), "u0", 1, b"voice").serialize())
        for _client, peer in members[1:]:
            assert parse_packet(await peer.recv(timeout=5)) == AudioPacket(
                str(group), "u0", 1, b"voice")
        reader, writer = await asyncio.open_connection("127.0.0.1", metrics_port)
        writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
        body = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert b"200 OK" in body and b"interphone_sessions" in body
        process.send_signal(signal.SIGHUP)  # systemctl reload
        while "directory reloaded" not in log[-1]:
            raw = await asyncio.wait_for(process.stderr.readline(), 10)
            assert raw, "".join(log)
            log.append(raw.decode())
        for client, peer in members:
            peer.close()
            await client.close()
        assert process.returncode is None, "".join(log)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 20)
    assert process.returncode == 0
