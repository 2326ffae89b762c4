"""Fixtures of the exposure tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from collector_proc import CollectorProcess, free_port, write_project


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(write_project(tmp_path / "project"), free_port())
    yield proc
    if proc.process is not None:
        proc.kill()
