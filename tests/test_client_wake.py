"""The machine sleeps, or the process is stopped, with the app connected: on resume the
client checks its connection at once (a keepalive ping), instead of waiting for the next
ping after ``keepalive`` seconds of silence, and reconnects when the server does not
answer. Real processes: a server and a client, each stopped with SIGSTOP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from server_fixtures import TEST_TOML, start_server_process

from app.client.session import ClientSession, RequestTimedOut
from app.client.wake_watch import WakeWatch
from app.protocol import Message, Ping

pytest_plugins = ["client_fixtures"]

from client_fixtures import events, logged_in_session, sent, wire  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

JOINED = """
import asyncio, contextlib, sys
from app.client import InterphoneClient, ConnectionChanged, ClientError

async def joined(port):
    \"\"\"alice connected and in group_58; prints each connection state.\"\"\"
    client = InterphoneClient("127.0.0.1", port, "alice", "pw-alice", backoff=(0.2, 1.0))
    client.model.subscribe(lambda e: isinstance(e, ConnectionChanged) and print(
        "state", e.state.value, flush=True))
    await client.connect()
    await client.join("group_58")
    print("joined", flush=True)
    return client
"""
"""The opening the client scripts share."""

CLIENT = JOINED + """
async def main(port):
    await joined(port)
    await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1])))
"""


class Lines:
    """A process's stdout lines, each with the (monotonic) time it was read."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.seen: list[tuple[float, str]] = []
        assert process.stdout is not None
        self._task = asyncio.get_running_loop().create_task(self._read(process.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.seen.append((time.monotonic(), line.decode().strip()))

    async def first(self, text: str, after: float, timeout: float) -> float:
        """When ``text`` was first read after ``after`` (waits up to ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in self.seen:
                if at >= after and line == text:
                    return at
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout} s: {self.seen}")


async def _drain(stream: asyncio.StreamReader | None) -> None:
    while stream is not None and await stream.readline():
        pass


@contextlib.asynccontextmanager
async def server_and_client(tmp_path: Path, script: str, *, keepalive: int = 15,
                            stdin: bool = False, qt: bool = False,
                            ) -> AsyncIterator[tuple[Process, Process, Lines]]:
    """A server process (``keepalive`` seconds) and a client process running ``script``
    against it, with the client's stdout lines; both ended (and resumed if stopped) after."""
    config = tmp_path / "dir.toml"
    config.write_text(TEST_TOML.replace("keepalive = 15", f"keepalive = {keepalive}"))
    server, port, _ = await start_server_process("--config", str(config))
    drain = asyncio.get_running_loop().create_task(_drain(server.stderr))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if qt:
        env["QT_QPA_PLATFORM"] = "offscreen"
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(port), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.PIPE if stdin else None, env=env)
    try:
        yield server, client, Lines(client)
    finally:
        for process in (client, server):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)
                process.kill()
            await process.wait()
        drain.cancel()


async def test_on_resume_a_dead_server_is_noticed_at_once_not_after_a_keepalive(
        tmp_path: Path) -> None:
    async with server_and_client(tmp_path, CLIENT) as (server, client, lines):
        await lines.first("joined", 0, 15)
        # the server hangs (its machine went away: the connection stays open, unanswered)
        server.send_signal(signal.SIGSTOP)
        # the laptop sleeps 5 s: a keepalive ping is not due for another 10 s at least
        client.send_signal(signal.SIGSTOP)
        await asyncio.sleep(5)
        client.send_signal(signal.SIGCONT)
        resumed = time.monotonic()
        # checked at once: the ping's 5 s without an answer, then reconnecting
        lost = await lines.first("state reconnecting", resumed, 20)
        assert lost - resumed < 8, f"noticed {lost - resumed:.1f} s after the resume"
        server.send_signal(signal.SIGCONT)
        await lines.first("state connected", lost, 15)


BUSY_CLIENT = JOINED + """
async def ask_members(client):
    with contextlib.suppress(ClientError):
        await client.members("group_58")

async def main(port):
    client = await joined(port)
    tasks = set()
    while True:  # a request every second, as a user clicking around would send
        await asyncio.sleep(1)
        if client.connected:
            task = asyncio.create_task(ask_members(client))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

asyncio.run(main(int(sys.argv[1])))
"""


async def test_a_hung_server_is_noticed_within_the_keepalive_bound_though_requests_go_on(
        tmp_path: Path) -> None:
    """The keepalive ping went out only after ``keepalive`` seconds *without sending*: a
    client that kept sending requests to a hung server (each one timing out on its own)
    never pinged, and never noticed the link dead. A request left unanswered now checks
    the link at once with a ping."""
    async with server_and_client(tmp_path, BUSY_CLIENT, keepalive=4) as (server, _, lines):
        await lines.first("joined", 0, 15)
        server.send_signal(signal.SIGSTOP)
        hung = time.monotonic()
        # the first request times out after 5 s, the ping sent then after 4 s more
        lost = await lines.first("state reconnecting", hung, 20)
        assert lost - hung < 14, f"noticed {lost - hung:.1f} s after the hang"
        server.send_signal(signal.SIGCONT)
        await lines.first("state connected", lost, 15)


QT_CLIENT = JOINED + """
from PySide6.QtCore import QCoreApplication
from app.ui.qt_loop import QtLoop

async def main(port):
    client = await joined(port)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    with contextlib.suppress(ClientError):  # the server hangs: no answer in time
        await client.members("group_58")
    print("timed out", flush=True)  # and the link is checked: a ping in flight
    await asyncio.Event().wait()

app = QCoreApplication([])
loop = QtLoop(app)
asyncio.set_event_loop(loop)
loop.run_until_complete(main(int(sys.argv[1])))
"""


async def test_answers_that_came_while_the_process_was_stopped_are_read_before_timeouts(
        tmp_path: Path) -> None:
    """The desktop app's loop (qasync) ran an overdue timer before reading the socket: a
    process stopped while a ping was in flight, whose answer came meanwhile, judged the
    ping unanswered at once on resume and reconnected for nothing."""
    async with server_and_client(tmp_path, QT_CLIENT, stdin=True, qt=True) as (
            server, client, lines):
        await lines.first("joined", 0, 20)
        server.send_signal(signal.SIGSTOP)
        assert client.stdin is not None
        client.stdin.write(b"go\n")
        await client.stdin.drain()
        await lines.first("timed out", 0, 10)  # the ping goes now, due back within 5 s
        client.send_signal(signal.SIGSTOP)  # the laptop sleeps...
        server.send_signal(signal.SIGCONT)  # ... while the server answers the ping
        await asyncio.sleep(7)
        client.send_signal(signal.SIGCONT)
        resumed = time.monotonic()
        await asyncio.sleep(3)
        assert [line for at, line in lines.seen if at >= resumed] == []  # still connected


# ---- the parts, on their own ----------------------------------------------------------


def test_a_probe_sends_a_ping_at_once_and_a_silent_server_closes_the_session() -> None:
    session = logged_in_session(now=0.0, keepalive=15)
    session.probe(1.0)
    [ping] = sent(session)
    assert isinstance(ping.body, Ping)
    session.probe(1.5)  # one in flight is enough
    assert sent(session) == []
    session.handle_timer(5.9)
    assert not session.closed
    session.handle_timer(6.0)  # min(request_timeout 5 s, keepalive) without an answer
    assert session.closed
    assert "ping not answered" in session.close_reason


def test_an_answered_probe_leaves_the_session_as_it_was() -> None:
    session = logged_in_session(now=0.0, keepalive=15)
    session.probe(1.0)
    [ping] = sent(session)
    session.receive_data(wire(Message.response(ping.seq or "", Ping())))
    assert events(session) == []  # (a keepalive: answered inside the session)
    assert session.logged_in
    assert session.next_deadline() == 16.0  # the next ping after 15 s of silence again


def test_a_request_left_unanswered_checks_the_link_at_once() -> None:
    session = logged_in_session(now=0.0, keepalive=15)
    session.send_request(Ping(), 10.0)  # (any request: it keeps the keepalive away)
    sent(session)
    session.handle_timer(15.0)  # it timed out; a keepalive ping was not due before 25 s
    [timed_out] = events(session)
    assert isinstance(timed_out, RequestTimedOut)
    [ping] = sent(session)
    assert isinstance(ping.body, Ping)
    session.handle_timer(20.0)  # unanswered too: the server is gone
    assert session.closed


def test_postponed_deadlines_leave_time_to_read_an_answer_that_came_meanwhile() -> None:
    session = logged_in_session(now=0.0, keepalive=15)
    session.probe(1.0)
    [ping] = sent(session)
    session.postpone(8.25)  # stopped for 8 s, woken at 14: its 5 s run from 9.25
    assert session.next_deadline() == 14.25
    session.handle_timer(14.0)
    assert not session.closed
    session.receive_data(wire(Message.response(ping.seq or "", Ping())))
    session.handle_timer(14.25)
    assert session.logged_in
    session.postpone(0.0)  # (nothing to move)
    assert session.next_deadline() == 16.0


def test_no_probe_before_login() -> None:
    session = ClientSession("me", "token")
    session.probe(0.0)
    assert session.data_to_send() == b""


class _Clocks:
    def __init__(self) -> None:
        self.monotonic = 100.0
        self.wall = 1_000_000.0


def test_the_wall_clock_ahead_of_the_monotonic_one_is_a_sleep() -> None:
    """A machine that slept: its monotonic clock stood still (Linux, macOS), the wall
    clock did not."""
    clocks = _Clocks()
    woke: list[float] = []
    watch = WakeWatch(woke.append, interval=1.0, gap=3.0, clock=lambda: clocks.monotonic,
                      wall=lambda: clocks.wall)
    watch._last = (clocks.monotonic, clocks.wall)
    clocks.monotonic += 1.0
    clocks.wall += 1.0
    assert watch.check() == 0.0
    clocks.monotonic += 1.0
    clocks.wall += 601.0  # ten minutes asleep
    assert round(watch.check(), 6) == 600.0
    assert [round(w, 6) for w in woke] == [600.0]
    clocks.monotonic += 1.2  # a tick a little late: not a sleep
    clocks.wall += 1.2
    assert watch.check() == 0.0
    clocks.monotonic += 61.0  # a stopped process: both clocks ran, the tick is late
    clocks.wall += 61.0
    assert round(watch.check(), 6) == 60.0
    assert [round(w, 6) for w in woke] == [600.0, 60.0]


async def test_a_loop_blocked_by_its_own_work_is_not_a_wake_up(
        caplog: pytest.LogCaptureFixture) -> None:
    """Joining many groups blocked the loop for 19 s: the late tick was taken for a wake-up
    (a needless probe, a false "woke up" in the log). The loop's thread used CPU all along:
    it was blocked, which is logged as such, and nothing is probed."""
    woke: list[float] = []
    watch = WakeWatch(woke.append, interval=0.1, gap=0.3)
    watch.start()
    try:
        await asyncio.sleep(0.25)  # a tick or two on time
        start = time.thread_time()
        while time.thread_time() - start < 0.8:  # the loop blocked by CPU work
            pass
        deadline = time.monotonic() + 10
        while watch.blocked == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        watch.stop()
    assert watch.blocked >= 1
    assert woke == [] and watch.wakes == 0
    assert "event loop was blocked for about" in caplog.text
    assert "woke up" not in caplog.text


STOPPED_WATCH = """
import asyncio, logging, sys
from app.client.wake_watch import WakeWatch
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")

async def main():
    watch = WakeWatch(lambda slept: print("wake", flush=True), interval=0.1, gap=0.3)
    watch.start()
    print("started", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_stopped_process_used_no_cpu_and_is_a_wake_up() -> None:
    """A process stopped (SIGSTOP) used no CPU while its tick was late: a wake-up."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STOPPED_WATCH, cwd=ROOT, stdout=asyncio.subprocess.PIPE, env=env)
    try:
        lines = Lines(process)
        await lines.first("started", 0, 15)
        await asyncio.sleep(0.3)
        process.send_signal(signal.SIGSTOP)
        await asyncio.sleep(1.5)
        process.send_signal(signal.SIGCONT)
        await lines.first("wake", 0, 15)
        assert not any("blocked" in line for _, line in lines.seen), lines.seen
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)
            process.kill()
        await process.wait()


def test_a_late_tick_is_told_apart_by_the_cpu_used_meanwhile() -> None:
    """The pure decision, on injected clocks: 20 s late with 19 s of CPU is a blocked loop;
    20 s late with none is a stopped process; a sleep (the wall clock ahead) is one
    whatever the CPU."""
    clocks = _Clocks()
    cpu = [0.0]
    woke: list[float] = []
    watch = WakeWatch(woke.append, interval=2.0, gap=3.0, clock=lambda: clocks.monotonic,
                      wall=lambda: clocks.wall, cpu=lambda: cpu[0])
    watch._last = (clocks.monotonic, clocks.wall)
    clocks.monotonic += 21.0
    clocks.wall += 21.0
    cpu[0] += 19.0
    assert watch.check() == 0.0 and watch.blocked == 1 and woke == []
    clocks.monotonic += 21.0
    clocks.wall += 21.0
    cpu[0] += 0.01
    assert round(watch.check(), 6) == 19.0 and watch.blocked == 1
    clocks.monotonic += 2.0
    clocks.wall += 602.0
    cpu[0] += 2.0
    assert round(watch.check(), 6) == 600.0
    assert [round(w, 6) for w in woke] == [19.0, 600.0]
