"""The server's log output: the usual text lines, or one JSON object per line.

``interphone-server --log-format json`` writes each record as one JSON object
with ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger`` and
``message``, then ``exception`` and ``stack`` when there are, then every extra field the
call passed (``log.info("...", extra={"uid": "alice"})``). Values that are not
JSON types are written as their ``str``.

No token ever reaches the log: the server's own lines never carry one, and as
a last guard an extra field whose name says it holds a secret (``token``,
``token_hash``, ``password``, ``secret``) is written as ``"<redacted>"``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "<redacted>"
SECRET_FIELDS = frozenset({"token", "token_hash", "password", "secret"})

_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}
"""Attributes every LogRecord has: anything else on a record came from ``extra=``."""


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return str(value)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key in _RECORD_FIELDS or key in entry:
                continue
            entry[key] = REDACTED if key.lower() in SECRET_FIELDS else _json_value(value)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, log_format: str = "text",
                      stream: TextIO | None = None) -> None:
    """Send the root logger's records to ``stream`` (default stderr) in ``log_format``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonLogFormatter() if log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
