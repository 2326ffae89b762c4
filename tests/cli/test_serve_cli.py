"""``assay serve`` on the command line: a taken port is a sentence, not a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from assay.cli import app


def test_a_taken_port_is_reported(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(tmp_path / "shop")]).exit_code == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        outcome = runner.invoke(app, ["serve", "--project", str(tmp_path / "shop"),
                                      "--port", str(port)])
    assert outcome.exit_code != 0
    assert f"cannot listen on 127.0.0.1:{port}" in outcome.output
    assert "Traceback" not in outcome.output


def test_serve_help_teaches_with_an_example() -> None:
    outcome = CliRunner().invoke(app, ["serve", "--help"])
    assert outcome.exit_code == 0
    assert "--read-only" in outcome.output and "assay serve --project demo" in outcome.output
