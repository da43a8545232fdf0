"""docs/protocol-extensions.md agrees with the code: its feature names, its registry
table, and its worked examples with real bytes (an independent implementation builds
on them)."""

from __future__ import annotations

import re
from pathlib import Path

from app.protocol.features import KNOWN_FEATURES
from app.protocol.media_crypto import AuthRecvBegin, MediaKey, seal_audio

PAGE = Path(__file__).resolve().parents[1] / "docs" / "protocol-extensions.md"


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_every_features_attribute_in_an_example_names_known_features() -> None:
    text = page()
    values = re.findall(r"features='([^']*)'", text)
    assert values, "the page has features examples"
    for value in values:
        # a request may also show a token that is not a feature name (ignored): only
        # lower-case names count, and every one of those must be a feature
        names = [token for token in value.split()
                 if re.fullmatch(r"[a-z0-9][a-z0-9-]*", token)]
        unknown = [name for name in names if name not in KNOWN_FEATURES]
        assert unknown == [], f"features='{value}' names {unknown}, not a feature"


def test_the_registry_table_lists_exactly_the_known_features() -> None:
    section = page().split("### 1.4 Registry", 1)[1].split("###", 1)[0]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE))
    assert listed == set(KNOWN_FEATURES)


def _hex_blocks() -> list[bytes]:
    blocks = re.findall(r"```\n((?:[0-9a-f]{2}[ \n]+)+)```", page())
    return [bytes.fromhex(block) for block in blocks]


def test_the_worked_media_auth_examples_are_what_the_code_sends() -> None:
    secret = bytes(range(32))
    recvbegin, ack, sealed = _hex_blocks()
    assert recvbegin == AuthRecvBegin.sign(secret, "group_58", "alice", 7).serialize()
    assert ack == AuthRecvBegin.sign(secret, "group_58", "alice", 7, ack=True).serialize()
    assert sealed == seal_audio(MediaKey(41, bytes(range(32, 64))), "group_58", "alice",
                                977, 0, b"\xf8\xff\xfe")
