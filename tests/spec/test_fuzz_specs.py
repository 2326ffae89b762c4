"""Fuzzing the spec files: `assay init`'s valid project with values swapped for hostile ones
(and random bytes spliced in). Every variant must load cleanly or raise a located SpecError:
never another exception, never a hang (a deadline per case), never unbounded memory.

Cases per run: ``ASSAY_FUZZ_EXAMPLES`` (default 150 per test; CI keeps the default)."""

from __future__ import annotations

import os
import re
import resource
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from projects import check, write

from assay.errors import SpecError
from assay.spec.scaffold import EXPERIMENT, METRICS, PROJECT

EXAMPLES = int(os.environ.get("ASSAY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HOSTILE = ["", "''", '""', "~", "null", "true", "0", "-1", "1e308", "-1e308", ".inf", "-.inf",
           ".nan", "1e400", "99999999999d", "[0d, 999999999d]", "0001-01-01", "9999-12-31",
           "2026-02-30", "123", "'a\"b'", "\"x\\0y\"", "\"\\u0007\"", "[]", "{}", "[[[[]]]]",
           "&a [*a]", "*nope", "!!python/object:os.system ls", "(" * 500 + "1" + ")" * 500,
           "amount + (SELECT 1)", "EXISTS (SELECT 1)", "row_number() OVER ()",
           "SELECT", "DROP TABLE x", "a; b", "x" * 10_000, "'" + "é" * 100 + "'", "-0d",
           "[1, 2, 3]", "{max: .nan}", "{winsorize: 2}", "[-28d, 5d]", "14x", "0.5.1"]
_VALUE = re.compile(r"^(\s*-?\s*[A-Za-z_]+:\s)(.+)$", re.M)
value = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40),
                  st.integers().map(str), st.floats().map(repr))
MEMORY_GROWTH_MB = 1024
CASE_SECONDS = 20  # a hang fails the case (the slowest clean case takes well under a second)


@contextmanager
def bounded_time(seconds: float) -> Iterator[None]:
    """Fail with TimeoutError if the block runs longer than ``seconds`` (SIGALRM)."""
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"a fuzz case ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _mutate(text: str, data: st.DataObject) -> str:
    lines = [m for m in _VALUE.finditer(text)]
    for _ in range(data.draw(st.integers(1, 3))):
        match = data.draw(st.sampled_from(lines))
        text = text.replace(match.group(0), match.group(1) + data.draw(value), 1)
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.text(max_size=8)) + text[at:]
    return text


def _assert_clean(root: Path) -> None:
    with bounded_time(CASE_SECONDS):
        try:
            check(root)
        except SpecError as err:
            _assert_located(err)


def _assert_located(err: SpecError) -> None:
    for issue in err.issues:
        assert issue.file and (issue.line is not None or issue.field), issue.format()


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@FUZZ
@given(st.data(), st.sampled_from(["project", "metrics", "experiment"]))
def test_fuzzed_specs_load_or_give_located_errors(data: st.DataObject, which: str) -> None:
    files = {"project": PROJECT, "metrics": METRICS, "experiment": EXPERIMENT}
    files[which] = _mutate(files[which], data)
    before = _max_rss_mb()
    with tempfile.TemporaryDirectory() as folder:
        _assert_clean(write(Path(folder), **files))
    assert _max_rss_mb() - before < MEMORY_GROWTH_MB


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_as_an_experiment_file(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = write(Path(folder))
        (root / "experiments" / "new_checkout.yml").write_bytes(raw)
        _assert_clean(root)
