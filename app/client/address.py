"""Server addresses as people type them: ``host``, ``host:port``, ``[v6]:port``, and lists."""

from __future__ import annotations

from app.protocol.limits import DEFAULT_PORT


def parse_server_address(text: str, default_host: str | None = None) -> tuple[str, int]:
    """``text`` as ``(host, port)``; the port defaults to :data:`DEFAULT_PORT`.

    An empty host (``""``, ``":9400"``) means ``default_host``, or is refused when there is
    none. Raises :class:`ValueError` naming what is wrong.
    """
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"bad server address {text!r}")
        port_text, port_given = rest[1:], bool(rest)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port_given = True
    else:
        host, port_text, port_given = text, "", False
    if not host:
        if default_host is None:
            raise ValueError(f"no host in {text!r}")
        host = default_host
    if any(c.isspace() for c in host):
        raise ValueError(f"bad host {host!r}")
    if not port_given:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port {port_text!r} (expected 1..65535)")
    return host, int(port_text)


def format_server_address(host: str, port: int) -> str:
    """``host:port``, an IPv6 host in brackets (``[::1]:9400``): as it reads back, and
    with the port told apart from the address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_server_list(text: str, default_host: str | None = None) -> list[tuple[str, int]]:
    """Comma-separated addresses (``h1:9400,h2:9400``), in order, without repeats."""
    servers: list[tuple[str, int]] = []
    for part in text.split(","):
        address = parse_server_address(part, default_host)
        if address not in servers:
            servers.append(address)
    return servers
