"""XXE and entity-expansion payloads are rejected quickly and never expanded (PROTOCOL.md 1.1)."""

from __future__ import annotations

import socket
import time

import pytest
from lxml import etree

from app.protocol import Ping, ProtocolError, decode_message, xmlcodec

MARKER = "TOP-SECRET-MARKER-7f3a"
ENVELOPE = "<message type='request' seq='1' module='MID_SESSION'>{}</message>"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(MARKER)
    return path.as_uri()


@pytest.fixture
def listener():
    """A local TCP port that records whether anybody connected to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/evil.dtd", server
    server.close()


def _nobody_connected(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def laughs(levels: int = 10, fan: int = 10) -> str:
    entities = ['<!ENTITY lol0 "lol">']
    for i in range(1, levels):
        entities.append(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * fan + '">')
    return "<!DOCTYPE message [" + "".join(entities) + "]>"


def payloads(secret: str, url: str) -> dict[str, str]:
    top = levels = 10
    return {
        "xxe-text": f'<!DOCTYPE message [<!ENTITY x SYSTEM "{secret}">]>'
        + ENVELOPE.format("<ping/>&x;"),
        "xxe-attr": f'<!DOCTYPE message [<!ENTITY x SYSTEM "{secret}">]>'
        + ENVELOPE.format("<login uid='a' token='&x;'/>"),
        "xxe-parameter": f'<!DOCTYPE message [<!ENTITY % p SYSTEM "{url}"> %p;]>'
        + ENVELOPE.format("<ping/>"),
        "external-dtd": f'<!DOCTYPE message SYSTEM "{url}">' + ENVELOPE.format("<ping/>"),
        "billion-laughs-text": laughs(levels)
        + ENVELOPE.format(f"<ping/>&lol{top - 1};"),
        "billion-laughs-attr": laughs(levels)
        + ENVELOPE.format(f"<login uid='a' token='&lol{top - 1};'/>"),
        "quadratic": '<!DOCTYPE message [<!ENTITY a "' + "a" * 20000 + '">]>'
        + ENVELOPE.format("<login uid='a' token='" + "&a;" * 2000 + "'/>"),
    }


def _encodings(text: str) -> dict[str, bytes]:
    utf7 = text.encode("utf-7")
    return {
        "utf-8": text.encode(),
        "utf-8-declared": ("<?xml version='1.0' encoding='UTF-8'?>" + text).encode(),
        "utf-16": ("<?xml version='1.0' encoding='UTF-16'?>" + text).encode("utf-16"),
        "utf-16be-no-bom": text.encode("utf-16-be"),
        "utf-7": b"<?xml version='1.0' encoding='UTF-7'?>" + utf7,
    }


CASES = [
    (name, enc)
    for name in payloads("file:///etc/passwd", "http://127.0.0.1:1/")
    for enc in _encodings("x")
]


@pytest.mark.parametrize(("name", "encoding"), CASES, ids=[f"{n}-{e}" for n, e in CASES])
def test_payload_is_rejected_fast_and_harmlessly(name, encoding, secret_file, listener):
    url, server = listener
    data = _encodings(payloads(secret_file, url)[name])[encoding]
    start = time.perf_counter()
    with pytest.raises(ProtocolError) as info:
        decode_message(data)
    elapsed = time.perf_counter() - start
    assert info.value.errcode == 400
    assert elapsed < 2.0
    assert MARKER not in info.value.errmsg
    assert "lollollol" not in info.value.errmsg
    assert _nobody_connected(server)


def test_etc_passwd_never_appears():
    data = ('<!DOCTYPE message [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + ENVELOPE.format("<login uid='a' token='&x;'/>")).encode()
    with pytest.raises(ProtocolError) as info:
        decode_message(data)
    assert info.value.errcode == 400
    assert "root:" not in info.value.errmsg


@pytest.mark.parametrize("name", list(payloads("file:///x", "http://127.0.0.1:1/")))
def test_the_parser_alone_does_not_expand(name, secret_file, listener):
    """Defence in depth: even without the DOCTYPE byte check the parser stays harmless."""
    url, server = listener
    data = payloads(secret_file, url)[name].encode()
    start = time.perf_counter()
    try:
        root = etree.fromstring(data, xmlcodec.document.PARSER)
    except etree.XMLSyntaxError:
        pass
    else:
        text = etree.tostring(root, encoding="unicode")
        assert MARKER not in text
        assert len(text) < 100_000
    assert time.perf_counter() - start < 2.0
    assert _nobody_connected(server)


def test_deep_nesting_is_rejected():
    depth = 100_000
    data = ENVELOPE.format("<ping>" + "<a>" * depth + "</a>" * depth + "</ping>").encode()
    data = data[: 65536]
    start = time.perf_counter()
    with pytest.raises(ProtocolError):
        decode_message(data)
    assert time.perf_counter() - start < 2.0


def test_many_attributes_and_elements_within_the_frame_limit_are_fast():
    attrs = " ".join(f"a{i}='{i}'" for i in range(4000))
    data = ENVELOPE.format(f"<ping {attrs}/>").encode()
    assert len(data) <= 65536
    start = time.perf_counter()
    assert decode_message(data).body == Ping()  # unknown attributes are ignored
    many = ENVELOPE.format("<ping/>" + "<!-- c -->" * 6000).encode()
    assert len(many) <= 65536
    assert decode_message(many).seq == "1"
    assert time.perf_counter() - start < 2.0
