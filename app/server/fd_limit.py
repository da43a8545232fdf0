"""The open-files limit the server needs: one descriptor per connection, plus its own.

Out of descriptors, the event loop stops accepting without a word (uvloop logs nothing),
so clients beyond the limit wait unanswered in the listen backlog while the log is
silent. At start :func:`ensure_open_files` raises the soft limit towards the hard one
as far as ``max_sessions`` needs, and returns a warning when even that falls short.
"""

from __future__ import annotations

import logging

log = logging.getLogger("app.server")

OWN_FILES = 64
"""Descriptors the server uses besides its connections (listening sockets, UDP, Redis,
metrics, the log, the login worker pool, Python's own)."""


def needed(max_sessions: int) -> int:
    return max_sessions + OWN_FILES


def ensure_open_files(max_sessions: int) -> str | None:
    """Raise the soft RLIMIT_NOFILE up to what ``max_sessions`` needs (at most the hard
    limit); the warning to log when the limit stays below it (None: enough, or a
    platform without the limit)."""
    try:
        import resource
    except ImportError:  # (Windows)
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed(max_sessions)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return None
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
        else:
            log.info("open files limit raised from %d to %d", soft, target)
    if target >= want:
        return None
    return (f"the open files limit is {target} (hard limit {hard}), below the {want} that "
            f"max_sessions = {max_sessions} needs: beyond about {max(0, target - OWN_FILES)} "
            f"connections new clients wait unanswered; raise it (LimitNOFILE= in the systemd "
            f"unit, ulimit -n) or lower max_sessions")
