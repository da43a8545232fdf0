"""`--version` of the console tools, like the desktop app's (`interphone --version`):
an operator checking what a package installed asks each executable the same way."""

from __future__ import annotations

import pytest

from app import __version__
from app.cli.args import build_parser
from app.server.__main__ import parse_args as parse_server_args


def test_the_server_says_its_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_server_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"interphone-server {__version__}"


def test_the_cli_says_its_version_without_a_command(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"interphone-cli {__version__}"
