"""SIGHUP: the directory file read again in a thread, then served on the event loop.

Reading and checking a directory of a thousand users and three hundred groups, then
making the rosters and contacts of the live sessions, takes most of a second: done on
the event loop, no client was answered meanwhile (and on a node of several its heartbeat
did not run). A :class:`DirectoryReloads` does that work in a thread
(:meth:`Directory.prepare`) and only swaps the new directory in on the loop
(:meth:`InterphoneServer.replace_directory`).

Reloads apply in the order asked, one at a time: a SIGHUP during a read reads the file
again once that read is over, and the directory read before it is not served (the last
file read wins; an older directory is never served after a newer one). A file that is
not valid leaves the directory in use (the log names the line). A server that stops
during a read serves nothing new; the thread is a daemon, the shutdown does not wait
for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.server.directory import Directory, DirectoryError

if TYPE_CHECKING:
    from app.server.app import InterphoneServer

log = logging.getLogger("app.server")

Reader = Callable[[Path], Directory]

READ_SWITCH_INTERVAL = 0.0005
"""Seconds the reading thread may hold the GIL while the loop's thread waits for it
(:func:`sys.setswitchinterval`, 5 ms otherwise), for the time of a read: parsing the file
is pure Python, and the loop took the GIL back after each of its system calls only once
that interval was over (a request answered in ~5 ms took 100-160 ms during a read)."""


class DirectoryReloads:
    """The reloads of ``path`` into ``server`` (``read``: how the file becomes a
    directory, :meth:`Directory.from_toml_file`)."""

    def __init__(self, server: InterphoneServer, path: str | Path,
                 read: Reader = Directory.from_toml_file) -> None:
        self._server = server
        self._path = Path(path)
        self._read = read
        self._asked = 0  # reloads asked (SIGHUPs)
        self._read_for = 0  # the last one whose read started
        self._task: asyncio.Task[None] | None = None
        self.applied = 0
        """Reloads that ended (served, refused or passed over for a newer one)."""

    @property
    def reading(self) -> bool:
        """A read is under way or asked."""
        return self._task is not None and not self._task.done()

    def request(self) -> None:
        """Read the file again and serve it (SIGHUP): after the read under way, if any."""
        self._asked += 1
        if not self.reading:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def cancel(self) -> None:
        """Serve nothing more (the server stops); a read under way ends unseen."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def _run(self) -> None:
        while self._read_for < self._asked:
            self._read_for = asked = self._asked
            state = self._server.state
            uids = [session.uid for session in state.sessions.values()]
            try:
                directory = await self._in_thread(uids, state.settings.auth)
            except DirectoryError as exc:
                log.error("SIGHUP: reload refused, the directory in use stays: %s", exc)
                directory = None
            except Exception:  # a defect, not the file: the directory in use stays
                log.exception("SIGHUP: reload failed, the directory in use stays")
                directory = None
            try:
                if directory is not None and asked == self._asked:
                    self._server.replace_directory(directory)
                elif directory is not None:  # a newer SIGHUP came during the read: again
                    log.info("SIGHUP: the file is read again for a newer reload")
            except Exception:  # a defect: logged, and the next SIGHUP is heard all the same
                log.exception("SIGHUP: serving the reloaded directory failed")
            finally:
                self.applied = asked

    def _in_thread(self, uids: Sequence[str], auth: str) -> asyncio.Future[Directory]:
        """The file read, and the directory prepared for ``uids``, by a daemon thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Directory] = loop.create_future()
        read, path = self._read, self._path

        def settle(directory: Directory | None, error: BaseException | None) -> None:
            if future.done():  # cancelled: the server stops
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(directory)  # type: ignore[arg-type]

        def work() -> None:
            directory: Directory | None = None
            error: BaseException | None = None
            interval = sys.getswitchinterval()
            sys.setswitchinterval(min(interval, READ_SWITCH_INTERVAL))
            try:
                directory = read(path)
                directory.prepare(uids, auth)
            except Exception as exc:
                error = exc
            finally:
                sys.setswitchinterval(interval)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, directory, error)

        threading.Thread(target=work, name="directory reload", daemon=True).start()
        return future
