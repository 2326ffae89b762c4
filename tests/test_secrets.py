"""Credentials are masked in every message, and ``${ENV_VAR}`` fills in the warehouse URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.secrets import MissingVariableError, interpolate, redact, remember_url
from assay.spec import load_project
from assay.warehouse import connect

runner = CliRunner()


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://u:hunter22@db:5432/x", "postgresql://u:***@db:5432/x"),
    ("postgressql://u:hunter22@db/x", "postgressql://u:***@db/x"),
    ("postgresql:/u:hunter22@db/x", "postgresql:/u:***@db/x"),
    ("postgresql+psycopg://u:hunter22@db/x", "postgresql+psycopg://u:***@db/x"),
    ("host=db password=hunter22 user=u", "host=db password=*** user=u"),
    ("no secret here: a:b", "no secret here: a:b"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_remembered_password_is_masked_even_quoted_alone() -> None:
    remember_url("postgresql://u:Pw%zzq@db/x")
    assert redact('libpq refused "Pw%zzq" in the URL') == 'libpq refused "***" in the URL'


def test_interpolate() -> None:
    env = {"PGPASS": "s3cr3t-value", "HOST": "db"}
    assert interpolate("postgresql://u:${PGPASS}@${HOST}/x", env) == \
        "postgresql://u:s3cr3t-value@db/x"
    assert interpolate("pa$word and $${LITERAL}", env) == "pa$word and ${LITERAL}"
    assert "s3cr3t-value" not in redact("failed with s3cr3t-value")
    with pytest.raises(MissingVariableError, match="NOPE is not set"):
        interpolate("${NOPE}", env)
    with pytest.raises(MissingVariableError, match="is not"):
        interpolate("${1bad}", env)


def _project(root: Path, url: str) -> Path:
    (root / "experiments").mkdir(parents=True, exist_ok=True)
    (root / "assay_project.yml").write_text(f'name: t\nwarehouse: "{url}"\n', encoding="utf-8")
    return root


@pytest.mark.parametrize("url", ["postgresql://u:PW%zzSECRET@127.0.0.1:1/db",
                                 "postgressql://u:PWSECRET@127.0.0.1:1/db",
                                 "postgresql:/u:PWSECRET@127.0.0.1/db"])
def test_the_password_is_never_printed(tmp_path: Path, url: str) -> None:
    result = runner.invoke(app, ["validate", "--project", str(_project(tmp_path, url))])
    assert result.exit_code in (2, 3), result.output
    assert "SECRET" not in result.output


def test_env_var_in_the_warehouse_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_TEST_DB", "wh.duckdb")
    project = load_project(_project(tmp_path, "duckdb:///${ASSAY_TEST_DB}"))
    assert project.spec.warehouse == "duckdb:///wh.duckdb"
    missing = runner.invoke(app, ["validate", "--offline", "--project",
                                  str(_project(tmp_path, "duckdb:///${ASSAY_NOT_SET}"))])
    assert missing.exit_code == 2
    assert "assay_project.yml:2: warehouse: environment variable ASSAY_NOT_SET is not set" \
        in missing.output


def test_sqlalchemy_driver_suffix_is_accepted(postgres_url: str) -> None:
    wh = connect(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        assert wh.execute("SELECT 1 AS x").column(0).to_pylist() == [1]
    finally:
        wh.close()


def test_unsupported_dialect_is_refused_by_name(tmp_path: Path) -> None:
    from assay.spec.scaffold import scaffold

    scaffold(tmp_path / "p")
    result = runner.invoke(app, ["sql", "new_checkout", "--project", str(tmp_path / "p"),
                                 "--dialect", "redshift"])
    assert result.exit_code == 1
    assert "does not compile SQL for 'redshift'" in result.output


def test_a_credential_in_a_source_sql_is_never_stored_or_printed(tmp_path: Path) -> None:
    """A URL literal with a password (or ``password=...``) inside a source's ``sql`` runs, but
    the SQL kept with the result (JSON ``sql``, the store's tables) and `assay sql` mask it."""
    import duckdb
    from tests.analysis.shop import build_shop, write_project

    project = write_project(tmp_path / "shop", build_shop(n_units=400))
    secret = "hunter2pw"
    spec = project / "assay_project.yml"
    spec.write_text(spec.read_text().replace(
        "sessions: {table: sessions, unit: user_id, timestamp: started_at}",
        "sessions:\n    unit: user_id\n    timestamp: started_at\n"
        f"    sql: \"SELECT * FROM sessions WHERE 'https://u:{secret}@files.example/x' <> ''"
        f" AND 'host=db password={secret}' <> ''\""))
    result = runner.invoke(app, ["analyze", "exp", "-p", str(project), "-f", "json"])
    assert result.exit_code in (0, 4), result.output
    assert '"sql"' in result.output and "files.example" in result.output
    assert secret not in result.output
    printed = runner.invoke(app, ["sql", "exp", "-p", str(project)])
    assert printed.exit_code == 0 and "u:***@files.example" in printed.output
    assert secret not in printed.output
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_name NOT IN ('exposures', 'orders', 'sessions')").fetchall()]
        assert any("analyses" in t for t in tables), tables
        stored = [str(row) for t in tables for row in con.execute(
            f"SELECT * FROM {t}").fetchall()]  # our own table names, read back
    finally:
        con.close()
    assert any("files.example" in row for row in stored)
    assert not any(secret in row for row in stored)
