"""``--log-format json``: one JSON object per line, no token ever; and ``--metrics`` on a real
server process."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from server_fixtures import TEST_TOML, RawClient

from app.server.logs import REDACTED, JsonLogFormatter, configure_logging

ROOT = Path(__file__).resolve().parent.parent


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("app.server.test")
    made = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, message, args, None,
                             extra=extra)
    return made


def test_a_record_is_one_json_object_with_the_fields_and_extras() -> None:
    line = JsonLogFormatter().format(record("login uid=%s\nsecond line", "alice", uid="alice",
                                            members=("a", "b"), where=Path("/x")))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "app.server.test"
    assert entry["message"] == "login uid=alice\nsecond line"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert entry["uid"] == "alice" and entry["members"] == ["a", "b"] and entry["where"] == "/x"
    assert "args" not in entry and "msg" not in entry


def test_secret_fields_are_redacted() -> None:
    entry = json.loads(JsonLogFormatter().format(record("x", token="pw-alice",
                                                        Password="hunter2")))
    assert entry["token"] == REDACTED and entry["Password"] == REDACTED
    assert "pw-alice" not in json.dumps(entry) and "hunter2" not in json.dumps(entry)


def test_exceptions_are_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        made = logging.getLogger("t").makeRecord("t", logging.ERROR, __file__, 1, "failed", (),
                                                 sys.exc_info())
    entry = json.loads(JsonLogFormatter().format(made))
    assert "ValueError: boom" in entry["exception"]


def test_configure_logging_replaces_the_handlers() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        configure_logging("INFO", "json", stream)
        logging.getLogger("app.server").info("hello %d", 1)
        logging.getLogger("app.server").debug("not shown")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["hello 1"]


async def test_server_process_logs_json_and_serves_metrics(tmp_path: Path) -> None:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.server", "--config", str(config), "--port", "0",
        "--log-format", "json", "--metrics", "127.0.0.1:0", cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    entries: list[dict] = []
    port = metrics_port = 0
    try:
        while not (port and metrics_port):
            raw = await asyncio.wait_for(process.stderr.readline(), 15)
            assert raw, f"server exited: {entries}"
            entries.append(json.loads(raw))
            message = entries[-1]["message"]
            if match := re.search(r"serving on \S+ port (\d+)", message):
                port = int(match.group(1))
            if match := re.search(r"metrics on http://\S+:(\d+)/metrics", message):
                metrics_port = int(match.group(1))
        alice = await RawClient.connect(port)
        await alice.login("alice")
        reader, writer = await asyncio.open_connection("127.0.0.1", metrics_port)
        writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
        body = (await asyncio.wait_for(reader.read(), 5)).decode()
        writer.close()
        assert re.search(r"^interphone_sessions 1\.0$", body, re.M)
        await alice.close()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 15)
    entries += [json.loads(line) for line in err.decode().splitlines()]
    assert process.returncode == 0
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any("login uid=alice" in entry["message"] for entry in entries)
    assert "pw-" not in json.dumps(entries)


@pytest.mark.parametrize(("args", "expected"), [
    (["--config", "{dir}/bad.toml"], "bad configuration: {dir}/bad.toml, line 2: max_talk "
                                     "must be a positive number, not 'thirty'"),
    (["--config", "{dir}/good.toml", "--tls-cert", "{dir}/none.crt", "--tls-key",
      "{dir}/none.key"],
     "TLS: cannot read {dir}/none.crt: no such file"),
])
def test_a_refused_start_is_a_json_line_too(tmp_path: Path, args: list[str],
                                            expected: str) -> None:
    """With ``--log-format json`` the line saying why the server did not start was the
    only one in plain text, so a log collector parsing JSON dropped the one that mattered."""
    (tmp_path / "bad.toml").write_text("[server]\nmax_talk = 'thirty'\n")
    (tmp_path / "good.toml").write_text(TEST_TOML)
    result = subprocess.run(
        [sys.executable, "-m", "app.server", "--port", "0", "--log-format", "json",
         *[arg.format(dir=tmp_path) for arg in args]],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(e["level"], e["message"]) for e in entries] == [
        ("ERROR", expected.format(dir=tmp_path))]
