"""What text an XML 1.0 document can carry at all (the ``Char`` production).

Both the codec (which replaces what cannot be carried) and the server's
directory loader (which refuses it in names) use this one definition.
"""

from __future__ import annotations

import re

NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Matches one character XML 1.0 cannot carry (controls, surrogates, U+FFFE, U+FFFF)."""


def has_non_xml_char(text: str) -> bool:
    return NOT_XML_CHAR.search(text) is not None


def xml_safe(text: str) -> str:
    """``text`` with every character XML cannot carry replaced by U+FFFD."""
    return NOT_XML_CHAR.sub("\ufffd", text)
