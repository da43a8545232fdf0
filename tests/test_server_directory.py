"""Loading the directory from TOML, and its refusals naming the line."""

from __future__ import annotations

import pytest
from server_fixtures import TEST_TOML

from app.protocol import InterphoneId
from app.server import Directory, DirectoryError, hash_token


def test_loads_the_documented_shape() -> None:
    directory = Directory.from_toml_text(TEST_TOML)
    assert directory.settings.auth == "token"
    assert directory.settings.max_talk == 60 and directory.settings.keepalive == 15
    assert set(directory.users) == {"alice", "bob", "carol", "dave", "eve"}
    assert directory.groups["58"].members == {"alice", "bob", "carol"}
    assert directory.groups["all"].everyone
    assert directory.discussions["12"].name == "Night"


def test_settings_overrides_and_extra_keys_are_accepted() -> None:
    text = TEST_TOML.replace("keepalive = 15", "keepalive = 15\nsilence_timeout = 2.5\n"
                             "rate_limit = 5\nfuture_key = 'x'")
    settings = Directory.from_toml_text(text).settings
    assert (settings.silence_timeout, settings.rate_limit) == (2.5, 5)


def test_an_unknown_setting_and_a_user_without_token_are_said_at_load(caplog) -> None:
    """A typo ("max_tlak") was silently ignored, the limit it meant not applied; a user
    without token or token_hash under auth = "token" could never log in, unsaid."""
    text = ("[server]\nauth = \"token\"\nmax_tlak = 30\n"
            "[[users]]\nuid = \"a\"\n[[users]]\nuid = \"b\"\ntoken = \"pw\"\n")
    with caplog.at_level("WARNING", logger="app.server.directory"):
        directory = Directory.from_toml_text(text, source="dir.toml")
    assert directory.settings.max_talk == 60  # accepted, the setting left at its default
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings == [
        "dir.toml, line 3: unknown setting 'max_tlak' in [server] is ignored "
        "(did you mean 'max_talk'?)",
        "dir.toml: user 'a' has no token or token_hash, so cannot log in (auth = \"token\")"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="app.server.directory"):
        Directory.from_toml_text(text.replace('"token"', '"open"', 1).replace(
            "max_tlak", "max_talk"))
    assert caplog.records == []  # open mode: any token; every setting known


def test_unknown_keys_and_tables_outside_server_are_said_with_the_line(caplog) -> None:
    """``member = [...]`` left a group without members, ``[[group]]`` left no group and
    ``tokn`` a user without a token (only that was said), each in silence: the operator
    found out from users who could not see Ops."""
    text = ("[server]\nauth = \"token\"\n"
            "[[users]]\nuid = \"a\"\ntoken = \"pw\"\n"
            "[[users]]\nuid = \"b\"\ntoken = \"pw\"\nprio = 3\n"
            "[[groups]]\nid = \"58\"\nmember = [\"a\", \"b\"]\n"
            "[[group]]\nid = \"59\"\nmembers = [\"a\"]\n")
    with caplog.at_level("WARNING", logger="app.server.directory"):
        directory = Directory.from_toml_text(text, source="dir.toml")
    assert directory.groups["58"].members == frozenset() and "59" not in directory.groups
    assert [record.getMessage() for record in caplog.records] == [
        "dir.toml, line 13: unknown table [[group]] is ignored (did you mean 'groups'?)",
        "dir.toml, line 9: unknown key 'prio' in [[users]] is ignored "
        "(did you mean 'priority'?)",
        "dir.toml, line 12: unknown key 'member' in [[groups]] is ignored "
        "(did you mean 'members'?)"]


def test_demo_directory_is_open() -> None:
    directory = Directory.demo()
    assert directory.settings.auth == "open"
    assert {"me", "echo", "alice", "bob"} <= set(directory.users)
    assert directory.may_log_in("anyone", "", "open")
    assert directory.may_see("anyone", InterphoneId.group("1"), "open")
    assert directory.may_see("anyone", InterphoneId.chat("anyone", "nobody"), "open")


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


@pytest.mark.parametrize(("change", "needle", "problem"), [
    (("members = [\"alice\", \"bob\", \"carol\"]", "members = [\"alice\", \"zed\"]"),
     "zed", "unknown member 'zed'"),
    (("uid = \"eve\"", "uid = \"alice\""), "uid = \"alice\"\nname = \"Eve\"",
     "duplicate uid 'alice'"),
    (("auth = \"token\"", "auth = \"tokens\""), "auth =", "auth must be"),
    (("id = \"58\"", "id = \"5:8\""), "5:8", "is not 1..64 characters"),
    (("max_talk = 60", "max_talk = -1"), "max_talk", "max_talk must be a positive"),
    (("token = \"pw-bob\"", "token_hash = \"md5$1$2\""), "token_hash", "token_hash of 'bob'"),
    (("id = \"12\"", "id = \"all\"\n[[discussions]]\nid = \"all\""), None, "duplicate discussion"),
])
def test_semantic_errors_name_the_line(change: tuple[str, str], needle: str | None,
                                       problem: str) -> None:
    text = TEST_TOML.replace(*change, 1)
    with pytest.raises(DirectoryError) as info:
        Directory.from_toml_text(text, source="x.toml")
    error = info.value
    assert problem in str(error)
    assert str(error).startswith(f"x.toml, line {error.line}: ")
    if needle == "uid = \"alice\"\nname = \"Eve\"":
        assert error.line == _line_of(text, "name = \"Eve\"") - 1
    elif needle is not None:
        assert error.line == _line_of(text, needle)
    else:
        assert error.line > 0


def test_syntax_errors_give_line_and_column() -> None:
    text = TEST_TOML.replace("name = \"Bob\"", "name = Bob")
    with pytest.raises(DirectoryError) as info:
        Directory.from_toml_text(text, source="x.toml")
    assert info.value.line == _line_of(text, "name = Bob")
    assert "column" in str(info.value)


def test_missing_file_is_a_directory_error(tmp_path) -> None:
    with pytest.raises(DirectoryError, match="cannot read"):
        Directory.from_toml_file(tmp_path / "nope.toml")


def test_token_hash_is_checked_and_remembered() -> None:
    hashed = hash_token("s3cret", salt="pepper", iterations=1000)
    assert hashed.startswith("pbkdf2_sha256$1000$pepper$")
    text = TEST_TOML.replace("token = \"pw-bob\"", f"token_hash = \"{hashed}\"")
    directory = Directory.from_toml_text(text)
    assert not directory.may_log_in("bob", "pw-bob", "token")
    assert directory.may_log_in("bob", "s3cret", "token")
    assert directory.may_log_in("bob", "s3cret", "token")  # from the cache
    assert not directory.may_log_in("bob", "s3cret!", "token")


def test_plain_tokens() -> None:
    directory = Directory.from_toml_text(TEST_TOML)
    assert directory.may_log_in("alice", "pw-alice", "token")
    assert not directory.may_log_in("alice", "pw-bob", "token")
    assert not directory.may_log_in("nobody", "pw-alice", "token")
    assert directory.may_log_in("nobody", "whatever", "open")
    assert not directory.may_log_in("bad:uid", "whatever", "open")


def test_the_shipped_example_loads() -> None:
    from pathlib import Path

    import app.server

    example = Path(app.server.__file__).with_name("example.toml")
    directory = Directory.from_toml_file(example)
    assert directory.settings.auth == "token"
    assert directory.may_log_in("bob", "secret", "token")
    assert directory.may_log_in("alice", "pw-alice", "token")


def test_an_unknown_top_level_table_and_no_users_are_said_at_load(caplog) -> None:
    """``[[user]]`` for ``[[users]]`` was ignored without a word: the server started with
    nobody in its directory and, under auth = "token", nobody could log in."""
    text = "[server]\nauth = \"token\"\n\n[[user]]\nuid = \"alice\"\ntoken = \"pw\"\n"
    with caplog.at_level("WARNING", logger="app.server.directory"):
        directory = Directory.from_toml_text(text, source="dir.toml")
    assert directory.users == {}
    assert [record.getMessage() for record in caplog.records] == [
        "dir.toml, line 4: unknown table [[user]] is ignored (did you mean 'users'?)",
        "dir.toml: no [[users]], so nobody can log in (auth = \"token\")"]


def test_an_open_directory_without_users_is_not_warned_about(caplog) -> None:
    with caplog.at_level("WARNING", logger="app.server.directory"):
        Directory.from_toml_text("[server]\nauth = \"open\"\n", source="dir.toml")
    assert caplog.records == []
