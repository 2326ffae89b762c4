"""`assay assign`, `assay hash`, `assay snapshot` on a project on disk."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.client import Client

EXPERIMENT = """\
salt: checkout_2026
variants:
  - {name: control, weight: 1, control: true}
  - {name: treatment, weight: 1}
targeting: "age >= 18"
forced: {qa-1: treatment}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "experiments").mkdir()
    (tmp_path / "assay_project.yml").write_text("name: cli_test\n", encoding="utf-8")
    (tmp_path / "experiments" / "checkout_v2.yml").write_text(EXPERIMENT, encoding="utf-8")
    (tmp_path / "flags").mkdir()
    (tmp_path / "flags" / "ui.yml").write_text(
        "flags:\n  - name: new_checkout\n    experiment: checkout_v2\n"
        "    values: {control: false, treatment: true}\n    default: false\n", encoding="utf-8")
    return tmp_path


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_assign_csv_with_attributes(project: Path) -> None:
    units = project / "units.csv"
    units.write_text("unit_id,age\n" + "".join(f"user-{i},{10 + i % 30}\n" for i in range(200))
                     + "qa-1,5\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["assign", "checkout_v2", "--units", str(units),
                                      "--project", str(project), "--explain"])
    assert result.exit_code == 0, result.output
    rows = _csv(result.stdout)
    client = Client.from_project(project)
    for row in rows:
        age = 5 if row["unit_id"] == "qa-1" else 10 + int(row["unit_id"].split("-")[1]) % 30
        assert (row["variant"] or None) == client.variant("checkout_v2", row["unit_id"],
                                                          {"age": age}, log=False)
    reasons = {r["reason"] for r in rows}
    assert {"forced", "targeting", "assigned"} <= reasons


def test_assign_plain_id_list(project: Path) -> None:
    units = project / "ids.txt"
    units.write_text("a\nb\nc\n", encoding="utf-8")
    out = project / "out.csv"
    result = CliRunner().invoke(app, ["assign", "checkout_v2", "-u", str(units), "-p",
                                      str(project), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = _csv(out.read_text(encoding="utf-8"))
    assert [r["unit_id"] for r in rows] == ["a", "b", "c"]
    assert all(r["variant"] == "" for r in rows)  # no `age` attribute: targeting excludes all


def test_unknown_experiment_is_a_spec_error(project: Path) -> None:
    units = project / "ids.txt"
    units.write_text("a\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["assign", "checkout_v3", "-u", str(units), "-p",
                                      str(project)])
    assert result.exit_code == 2
    assert "checkout_v2" in result.output


def test_hash_shows_each_step() -> None:
    result = CliRunner().invoke(app, ["hash", "exp", "user-1"])
    assert result.exit_code == 0
    assert "6e730ccf1917840a9ed4ae94f243d24f" in result.stdout
    assert result.stdout.strip().endswith("3679")


def test_snapshot_round_trip(project: Path) -> None:
    out = project / "snapshot.json"
    result = CliRunner().invoke(app, ["snapshot", "-p", str(project), "-o", str(out)])
    assert result.exit_code == 0, result.output
    remote, local = Client.from_snapshot(out), Client.from_project(project)
    for i in range(100):
        attrs = {"age": 20 + i % 3}
        assert remote.flag("new_checkout", f"u{i}", attrs) == local.flag("new_checkout", f"u{i}",
                                                                         attrs)


@pytest.mark.parametrize("command", ["assign", "hash", "snapshot", "collect"])
def test_help_teaches_with_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout and f"assay {command}" in result.stdout
