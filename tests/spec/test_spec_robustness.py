"""Bad specs found by fuzzing (issue 15): each one a located error, none a traceback, a hang
or a silent accept."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from projects import check, write

from assay.errors import SpecError
from assay.spec.scaffold import EXPERIMENT, METRICS, PROJECT

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True))


def _metric(old: str, new: str) -> dict[str, str]:
    return {"metrics": METRICS.replace(old, new, 1)}


def _experiment(old: str, new: str) -> dict[str, str]:
    return {"experiment": EXPERIMENT.replace(old, new, 1)}


def _project(old: str, new: str) -> dict[str, str]:
    return {"project": PROJECT.replace(old, new, 1)}


CASES = {
    "empty table name": (_project("table: orders", 'table: ""'), "sources.orders.table"),
    "quotes in a table name": (_project("table: orders", "table: 'or\"d''ers'"),
                               "sources.orders.table"),
    "quote in results_schema": ({"project": PROJECT + "results_schema: 'a\"b'\n"},
                                "results_schema"),
    "sql: SELECT": (_project("    table: orders\n", "    sql: SELECT\n"), "sources.orders.sql"),
    "weight 1e308": (_experiment("weight: 50, control", "weight: 1e308, control"),
                     "variants[0].weight"),
    "weight .inf": (_experiment("weight: 50, control", "weight: .inf, control"),
                    "variants[0].weight"),
    "weight true": (_experiment("weight: 50, control", "weight: true, control"),
                    "variants[0].weight"),
    "duration 99999999999d": (_metric("[0d, 14d]", "[0d, 99999999999d]"), "metrics[0].window"),
    "window 999999999d": (_metric("[0d, 14d]", "[0d, 999999999d]"), "metrics[0].window"),
    "start 0001-01-01": (_experiment("start: 2026-01-01", "start: 0001-01-01"), "start"),
    "end 9999-12-31": (_experiment("end: 2026-01-28", "end: 9999-12-31"), "end"),
    "start 2026-02-30": (_experiment("start: 2026-01-01", "start: 2026-02-30"), ""),
    "start 123 (Unix time)": (_experiment("start: 2026-01-01", "start: 123"), "start"),
    "NUL byte": (_experiment("name: New checkout", "name: New\x00checkout"), ""),
    "control byte": (_experiment("name: New checkout", "name: New\x1bcheckout"), ""),
    "3,000 nested parentheses": (_metric("value: amount", "value: " + "(" * 3000 + "amount"
                                         + ")" * 3000), "metrics[0].value"),
    "subquery in value": (_metric("value: amount", "value: amount + (SELECT 1)"),
                          "metrics[0].value"),
    "EXISTS in value": (_metric("value: amount", "value: EXISTS (SELECT 1)"),
                        "metrics[0].value"),
    "window function in value": (_metric("value: amount", "value: row_number() OVER ()"),
                                 "metrics[0].value"),
    "capping max .nan": (_metric("capping: {winsorize: 0.99}", "capping: {max: .nan}"),
                         "metrics[0].capping.max"),
    "capping max 1e400": (_metric("capping: {winsorize: 0.99}", "capping: {max: 1e400}"),
                          "metrics[0].capping.max"),
    "layer_range without layer": ({"experiment": EXPERIMENT + "layer_range: [0, 5000]\n"}, ""),
    "1 MB salt": (_experiment("salt: new_checkout_v1", "salt: " + "x" * 1_000_000), "salt"),
    "billion laughs": ({"experiment": LAUGHS}, ""),
    "recursive alias": ({"experiment": EXPERIMENT + "owner: &a [*a]\n"}, ""),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_spec_is_a_located_error(tmp_path: Path, name: str) -> None:
    files, field = CASES[name]
    write(tmp_path, **files)
    began = time.monotonic()
    with pytest.raises(SpecError) as caught:
        check(tmp_path)
    assert time.monotonic() - began < 5
    issue = caught.value.issues[0]
    assert issue.file.endswith(".yml") and issue.line is not None, issue.format()
    assert issue.field == field, issue.format()


def test_a_folder_or_broken_link_named_yml_is_reported(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "experiments" / "folder.yml").mkdir()
    (tmp_path / "metrics" / "gone.yml").symlink_to(tmp_path / "nowhere.yml")
    with pytest.raises(SpecError) as caught:
        check(tmp_path)
    messages = sorted((Path(i.file).name, i.message.split(";")[0]) for i in caught.value.issues)
    assert messages == [("folder.yml", "not a file"), ("gone.yml", "a broken symbolic link")]


def test_x_yml_and_x_yaml_do_not_shadow_each_other(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "experiments" / "new_checkout.yaml").write_text(EXPERIMENT, encoding="utf-8")
    with pytest.raises(SpecError, match=r"new_checkout.yml and new_checkout.yaml define the "
                                        "same name|new_checkout.yaml and new_checkout.yml"):
        check(tmp_path)


def test_the_valid_template_still_passes(tmp_path: Path) -> None:
    check(write(tmp_path))
