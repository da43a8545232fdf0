"""``media_encryption`` in ``[server]`` without TLS: the start's warning."""

from __future__ import annotations

from pathlib import Path

from server_fixtures import start_server_process, stop_server_process

from app.server.directory import Directory


async def test_required_without_tls_says_that_no_client_can_log_in(tmp_path: Path) -> None:
    """It warned only that voice keys would cross in clear text, while every login of
    interphone-cli and the desktop app (which ask for encrypted voice over TLS only) was
    refused with 426: an operator read a warning about privacy, not a server nobody can use."""
    config = tmp_path / "directory.toml"
    config.write_text('[server]\nauth = "open"\nmedia_encryption = "required"\n')
    assert Directory.from_toml_file(config).settings.auth == "open"
    process, _, lines = await start_server_process("--config", str(config))
    await stop_server_process(process)
    warning = next(line for line in lines if "media_encryption = required" in line)
    assert warning.rstrip().endswith(
        "interphone-cli and the desktop app ask for it over TLS only, so none of them can "
        "log in (errcode 426): add TLS (--tls-cert and --tls-key, or --tls-self-signed) or "
        "set media_encryption = \"off\""), warning
