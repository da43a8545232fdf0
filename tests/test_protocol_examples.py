"""Every example of PROTOCOL.md (the well-formed forms of the seed's examples).

Each document decodes to the expected typed message and re-encodes to an
equivalent document: equal after decoding again, and equal as an element tree
(tags, attributes, children in order). In the tree comparison attribute values
are stripped and an empty attribute counts as absent, which is what the
contract makes them mean (``errcode=''`` is success, ``speaker=''`` nobody).
"""

from __future__ import annotations

import pytest
from lxml import etree

from app.protocol import (
    ErrCode,
    ErrorReply,
    InterphoneChanged,
    InterphoneId,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Kicked,
    Login,
    LoginResult,
    MembersRequest,
    MembersResult,
    Message,
    MessageKind,
    Module,
    Ping,
    QuitRequest,
    QuitResult,
    RosterEntry,
    SpeakRequest,
    SpeakResult,
    SyncRequest,
    SyncResult,
    decode_message,
    encode_message,
)

D12 = InterphoneId.discuss("12")
G58 = InterphoneId.group("58")
CHAT = InterphoneId.chat("sung", "lxx")

# (name, document exactly as PROTOCOL.md spells it, expected message)
EXAMPLES: list[tuple[str, str, Message]] = [
    (
        "login request",
        """<message type='request' seq='1' module='MID_SESSION'>
  <login uid='sung' token='secret' version='1'/>
</message>""",
        Message.request("1", Login("sung", "secret", "1")),
    ),
    (
        "login response with roster",
        """<message type='response' seq='1' module='MID_SESSION'>
  <login uid='sung' udp_port='9400' keepalive='15' max_talk='60'>
    <group id='58' name='Ops'/>
    <discuss id='12' name='Night shift'/>
    <contact id='lxx' name='Li Xiaoxia'/>
  </login>
</message>""",
        Message.response(
            "1",
            LoginResult(
                "sung",
                9400,
                15,
                60,
                (
                    RosterEntry("group", "58", "Ops"),
                    RosterEntry("discuss", "12", "Night shift"),
                    RosterEntry("contact", "lxx", "Li Xiaoxia"),
                ),
            ),
        ),
    ),
    (
        "kicked notification",
        "<message type='notification' module='MID_SESSION'>"
        "<kicked reason='login_elsewhere'/></message>",
        Message.notification(Kicked("login_elsewhere")),
    ),
    (
        "ping request",
        "<message type='request' seq='9' module='MID_SESSION'><ping/></message>",
        Message.request("9", Ping()),
    ),
    (
        "ping response",
        "<message type='response' seq='9' module='MID_SESSION'><ping/></message>",
        Message.response("9", Ping()),
    ),
    (
        "sync request",
        """<message type='request' seq='5' module='MID_INTERPHONE'>
  <interphones type='sync'>
    <interphone id='group_58'/>
    <interphone id='discuss_12'/>
  </interphones>
</message>""",
        Message.request("5", SyncRequest((G58, D12))),
    ),
    (
        "sync response with a chat entry",
        """<message type='response' seq='5' module='MID_INTERPHONE'>
  <interphones type='sync'>
    <interphone id='group_58' attach_type='group' attach_id='58' member_count='2' speaker=''/>
    <interphone id='discuss_12' attach_type='discuss' attach_id='12' member_count='4' speaker='wux'/>
    <interphone id='chat_lxx:sung' attach_type='chat' attach_id='sung' member_count='1' speaker=''/>
  </interphones>
</message>""",  # noqa: E501
        Message.response(
            "5",
            SyncResult(
                (
                    InterphoneInfo(G58, "58", 2, ""),
                    InterphoneInfo(D12, "12", 4, "wux"),
                    InterphoneInfo(CHAT, "sung", 1, ""),
                )
            ),
        ),
    ),
    (
        "members request",
        """<message type='request' seq='1_2' module='MID_INTERPHONE'>
  <interphone type='sync' id='discuss_12'/>
</message>""",
        Message.request("1_2", MembersRequest(D12)),
    ),
    (
        "members response",
        """<message type='response' seq='1_2' module='MID_INTERPHONE'>
  <interphone type='sync' id='discuss_12' attach_type='discuss' attach_id='12' member_count='3' speaker='sung'>
    <member id='sung'/>
    <member id='lixx'/>
    <member id='wux'/>
  </interphone>
</message>""",  # noqa: E501
        Message.response(
            "1_2", MembersResult(InterphoneInfo(D12, "12", 3, "sung", ("sung", "lixx", "wux")))
        ),
    ),
    (
        "join request",
        """<message type='request' seq='3' module='MID_INTERPHONE'>
  <interphone type='add' id='discuss_12'><member id='sung'/></interphone>
</message>""",
        Message.request("3", JoinRequest(D12, "sung")),
    ),
    (
        "join response",
        """<message type='response' seq='3' module='MID_INTERPHONE'>
  <interphone type='add' id='discuss_12' attach_type='discuss' attach_id='12' member_count='3' speaker='lixx'>
    <member id='sung'/><member id='lixx'/><member id='wux'/>
  </interphone>
</message>""",  # noqa: E501
        Message.response(
            "3", JoinResult(InterphoneInfo(D12, "12", 3, "lixx", ("sung", "lixx", "wux")))
        ),
    ),
    (
        "quit request",
        """<message type='request' seq='4' module='MID_INTERPHONE'>
  <interphone type='quit' id='discuss_12'><member id='sung'/></interphone>
</message>""",
        Message.request("4", QuitRequest(D12, "sung")),
    ),
    (
        "quit response",
        """<message type='response' seq='4' module='MID_INTERPHONE'>
  <interphone type='quit' id='discuss_12' attach_type='discuss' attach_id='12' member_count='2'/>
</message>""",
        Message.response("4", QuitResult(InterphoneInfo(D12, "12", 2, ""))),
    ),
    (
        "change notification",
        """<message type='notification' module='MID_INTERPHONE'>
  <interphone id='discuss_12' attach_id='12' attach_type='discuss' member_count='4' speaker='lixx'/>
</message>""",
        Message.notification(InterphoneChanged(InterphoneInfo(D12, "12", 4, "lixx"))),
    ),
    (
        "speak on request",
        "<message type='request' seq='7' module='MID_INTERPHONE'>"
        "<speak type='on' id='discuss_12'/></message>",
        Message.request("7", SpeakRequest(True, D12)),
    ),
    (
        "speak off request",
        "<message type='request' seq='1_2' module='MID_INTERPHONE'>"
        "<speak type='off' id='discuss_12'/></message>",
        Message.request("1_2", SpeakRequest(False, D12)),
    ),
    (
        "speak success response",
        "<message type='response' seq='7' module='MID_INTERPHONE'>"
        "<speak type='on' id='discuss_12'/></message>",
        Message.response("7", SpeakResult(True, D12)),
    ),
    (
        "speak 409 response",
        "<message type='response' seq='8' module='MID_INTERPHONE'>"
        "<speak type='on' id='discuss_12' errcode='409' errmsg='lixx is speaking'/></message>",
        Message.response(
            "8", ErrorReply("speak", 409, "lixx is speaking", "on", "discuss_12")
        ),
    ),
    (
        "frame error response",
        "<message type='response' module='MID_SESSION'>"
        "<error errcode='400' errmsg='malformed XML'/></message>",
        Message.frame_error("malformed XML"),
    ),
]

IDS = [name for name, _, _ in EXAMPLES]


def canon(element: etree._Element) -> tuple:
    """Tag, non-empty stripped attributes, element children in order."""
    attrs = {k: v.strip() for k, v in element.attrib.items() if v.strip()}
    children = [canon(child) for child in element if isinstance(child.tag, str)]
    return (element.tag, attrs, children)


def tree(document: bytes | str) -> tuple:
    if isinstance(document, str):
        document = document.encode()
    return canon(etree.fromstring(document))


@pytest.mark.parametrize(("name", "document", "expected"), EXAMPLES, ids=IDS)
def test_example_decodes_to_expected_message(name, document, expected):
    assert decode_message(document.encode()) == expected


@pytest.mark.parametrize(("name", "document", "expected"), EXAMPLES, ids=IDS)
def test_example_reencodes_to_equivalent_document(name, document, expected):
    decoded = decode_message(document.encode())
    encoded = encode_message(decoded)
    assert decode_message(encoded) == decoded
    assert tree(encoded) == tree(document)
    # Encoding the hand-built object gives the same document.
    assert encode_message(expected) == encoded


@pytest.mark.parametrize(("name", "document", "expected"), EXAMPLES, ids=IDS)
def test_example_with_double_quotes(name, document, expected):
    assert '"' not in document
    assert decode_message(document.replace("'", '"').encode()) == expected


@pytest.mark.parametrize(
    "declaration",
    [
        "<?xml version='1.0'?>",
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        "<?xml version='1.0' encoding='utf-8' standalone='yes'?>\r\n",
        "\ufeff",  # a UTF-8 byte order mark
    ],
)
@pytest.mark.parametrize(("name", "document", "expected"), EXAMPLES, ids=IDS)
def test_example_with_optional_declaration(name, document, expected, declaration):
    assert decode_message((declaration + document).encode()) == expected


def test_encoder_writes_no_declaration_and_utf8():
    message = Message.response("1", LoginResult("sung", 9400, 15, 60, (
        RosterEntry("group", "58", "Opérations 运维"),)))
    encoded = encode_message(message)
    assert encoded.startswith(b"<message ")
    assert "运维".encode() in encoded
    assert decode_message(encoded) == message


# ---- the seed's quirks that the contract says to tolerate --------------------------------

SEED_SYNC_RESPONSE = """<message type='response' seq='5' module='MID_INTERPHONE'>
    <interphones type='sync'>
        <interphone id='group_58' attach_type='group' attach_id='58' member_count='2 '/>
        <interphone id='discuss_12' attach_type='discuss' attach_id='12' member_count='4' />
        <interphone id='chat_lxx:sung' attach_type='chat' attach_id='sung' member_count='1' />
    </interphones>
</message>"""

SEED_MEMBERS_RESPONSE = """<message type='response' seq='1_2' module='MID_INTERPHONE'>
    <interphone type='sync' id='discuss_12' attach_type='discuss' attach_id='12' member_count='3 ' speaker='sung'>
        <member id='sung' />
        <member id='lixx' />
        <member id='wux' />
    </interphone>
</message>"""  # noqa: E501


def test_seed_sync_response_with_padded_count_and_no_speaker():
    message = decode_message(SEED_SYNC_RESPONSE.encode())
    assert message.body == SyncResult(
        (
            InterphoneInfo(G58, "58", 2, ""),
            InterphoneInfo(D12, "12", 4, ""),
            InterphoneInfo(CHAT, "sung", 1, ""),
        )
    )
    assert tree(encode_message(message)) == tree(SEED_SYNC_RESPONSE)


def test_seed_members_response_with_padded_count():
    message = decode_message(SEED_MEMBERS_RESPONSE.encode())
    assert message.body == MembersResult(
        InterphoneInfo(D12, "12", 3, "sung", ("sung", "lixx", "wux"))
    )


@pytest.mark.parametrize(
    "document",
    [
        "<message type='response' seq='1_2' module='MID_INTERPHONE'>\n    <speak/>\n</message>",
        "<message type='response' seq='1_2' module='MID_INTERPHONE'>\n"
        "    <speak errcode='' errmsg=''/>\n</message>",
        "<message type='response' seq='1_2' module='MID_INTERPHONE'>"
        "<speak errcode=' ' errmsg=''/></message>",
        '<message type="response" seq="1_2" module="MID_INTERPHONE"><speak errcode=""/></message>',
    ],
    ids=["bare", "empty-errcode", "blank-errcode", "double-quoted"],
)
def test_seed_speak_success_forms(document):
    message = decode_message(document.encode())
    assert message.ok
    assert message.kind is MessageKind.RESPONSE
    assert message.seq == "1_2"
    assert message.body == SpeakResult(None, None)
    assert tree(encode_message(message)) == tree(document)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            "<message type=' request ' seq=' 7 ' module=' MID_INTERPHONE '>"
            "<speak type=' on ' id=' discuss_12 '/></message>",
            Message.request("7", SpeakRequest(True, D12)),
        ),
        (
            "<message type='request' seq='3' module='MID_INTERPHONE'>"
            "<interphone type='add ' id='discuss_12\t'><member id=' sung'/></interphone></message>",
            Message.request("3", JoinRequest(D12, "sung")),
        ),
        (
            "<message type='notification' module='MID_INTERPHONE'><interphone id='chat_sung:lxx'"
            " attach_type=' chat' attach_id='lxx ' member_count=' 0 ' speaker=' '/></message>",
            Message.notification(InterphoneChanged(InterphoneInfo(CHAT, "lxx", 0, "", ()))),
        ),
        (
            "<message type='response' seq='1' module='MID_SESSION'>"
            "<login uid='sung ' udp_port=' 9400' keepalive='15 ' max_talk=' 60 '/></message>",
            Message.response("1", LoginResult("sung", 9400, 15, 60)),
        ),
    ],
    ids=["speak", "join", "notification", "login"],
)
def test_surrounding_whitespace_in_attribute_values(document, expected):
    assert decode_message(document.encode()) == expected


def test_chat_id_in_either_order_decodes_canonical():
    for raw in ("chat_lxx:sung", "chat_sung:lxx"):
        doc = (f"<message type='request' seq='1' module='MID_INTERPHONE'>"
               f"<speak type='on' id='{raw}'/></message>")
        message = decode_message(doc.encode())
        assert message.body == SpeakRequest(True, CHAT)
        assert b"chat_lxx:sung" in encode_message(message)


def test_comments_and_processing_instructions_are_ignored():
    doc = ("<message type='request' seq='9' module='MID_SESSION'><!-- hi -->"
           "<?pi x?><ping/><!-- bye --></message>")
    assert decode_message(doc.encode()) == Message.request("9", Ping())


# ---- the envelope helpers ------------------------------------------------------------------


def test_message_helpers():
    ok = Message.response("7", SpeakResult(True, D12))
    assert ok.ok and ok.module == Module.INTERPHONE
    busy = Message.response("8", ErrorReply("speak", 409, "lixx is speaking", "on", "discuss_12"))
    assert not busy.ok
    assert busy.body.code is ErrCode.FLOOR_BUSY
    assert ErrorReply("speak", 599).code == 599
    frame = Message.frame_error("bad")
    assert frame.seq is None and frame.module == "MID_SESSION"
    assert frame.body == ErrorReply("error", 400, "bad")


@pytest.mark.parametrize(
    ("tag", "module"),
    [
        ("login", "MID_SESSION"),
        ("ping", "MID_SESSION"),
        ("error", "MID_SESSION"),
        ("speak", "MID_INTERPHONE"),
        ("interphone", "MID_INTERPHONE"),
        ("interphones", "MID_INTERPHONE"),
    ],
)
def test_error_reply_answers_in_the_module_of_its_request(tag, module):
    message = Message.response("1", ErrorReply(tag, 401, "no"))
    assert message.module == module
    assert decode_message(encode_message(message)) == message
