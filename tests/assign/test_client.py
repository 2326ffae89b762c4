"""The SDK client: variants, flags, snapshots (file and HTTP on loopback), exposure logging."""

from __future__ import annotations

import doctest
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import assay.client
import assay.exposure.logger
from assay.assign.flags import FlagSpec, load_flags
from assay.assign.snapshot import build_snapshot
from assay.client import Client, UnknownExperimentError
from assay.errors import AssayError, SpecError
from assay.exposure import ExposureLogger, ListSink
from assay.spec.models import ExperimentSpec

CHECKOUT = ExperimentSpec(id="checkout_v2", variants=[
    {"name": "control", "weight": 1, "control": True}, {"name": "treatment", "weight": 1}],
    forced={"qa-1": "treatment"}, targeting="country <> 'US'")
FLAGS = [FlagSpec(name="new_checkout", experiment="checkout_v2",
                  values={"control": False, "treatment": True}, default=False),
         FlagSpec(name="dark_mode", rollout=0.3, value="dark", default="light",
                  targeting="age >= 18")]


def test_docstring_examples() -> None:
    for module in (assay.client, assay.exposure.logger):
        assert doctest.testmod(module).failed == 0


def test_variant_and_flag_agree() -> None:
    client = Client([CHECKOUT], FLAGS)
    for i in range(300):
        unit = f"user-{i}"
        variant = client.variant("checkout_v2", unit, {"country": "DE"})
        assert client.flag("new_checkout", unit, {"country": "DE"}) is (variant == "treatment")
    assert client.variant("checkout_v2", "user-1", {"country": "US"}) is None
    assert client.flag("new_checkout", "user-1", {"country": "US"}) is False


def test_rollout_flag_share_and_monotone() -> None:
    narrow = Client([], [FLAGS[1]])
    wide = Client([], [FLAGS[1].model_copy(update={"rollout": 0.6})])
    units = [f"u{i}" for i in range(20_000)]
    on_narrow = [narrow.flag("dark_mode", u, {"age": 30}) == "dark" for u in units]
    on_wide = [wide.flag("dark_mode", u, {"age": 30}) == "dark" for u in units]
    assert sum(on_narrow) / len(units) == pytest.approx(0.3, abs=0.015)
    assert all(w for n, w in zip(on_narrow, on_wide, strict=True) if n)
    assert narrow.flag("dark_mode", "u1", {"age": 10}) == "light"
    assert narrow.flag("no_such_flag", "u1", default=7) == 7


def test_unknown_experiment_names_known_ones() -> None:
    with pytest.raises(UnknownExperimentError, match="known: checkout_v2"):
        Client([CHECKOUT]).variant("checkot_v2", "u")


def test_flag_referencing_unknown_variant_is_rejected() -> None:
    bad = FlagSpec(name="f", experiment="checkout_v2", values={"treatmnt": True})
    with pytest.raises(SpecError, match="treatmnt"):
        Client([CHECKOUT], [bad])


def test_exposures_logged_once_and_not_for_forced_units() -> None:
    sink = ListSink()
    with Client([CHECKOUT], FLAGS, logger=ExposureLogger(sink, flush_interval=0.05)) as client:
        for _ in range(3):
            for i in range(100):
                client.variant("checkout_v2", f"user-{i}", {"country": "DE"})
                client.flag("new_checkout", f"user-{i}", {"country": "DE"})
        client.variant("checkout_v2", "qa-1")
        client.variant("checkout_v2", "user-999", {"country": "US"})  # not in: nothing to log
        client.variant("checkout_v2", "user-500", {"country": "DE"}, log=False)
        logger = client.logger
    assert logger is not None
    events = sink.events
    assert sorted(e.unit_id for e in events) == sorted(f"user-{i}" for i in range(100))
    assert all(e.variant == Client([CHECKOUT]).variant("checkout_v2", e.unit_id,
                                                       {"country": "DE"}) for e in events)
    assert logger.stats.duplicates == 100 * 6 - 100


def test_batch_matches_single() -> None:
    client = Client([CHECKOUT])
    units = [f"user-{i}" for i in range(2000)] + ["qa-1"]
    attrs = {"country": ["DE" if i % 5 else "US" for i in range(len(units))]}
    batch = client.variants("checkout_v2", units, attrs).tolist()
    assert batch == [client.variant("checkout_v2", u, {"country": c})
                     for u, c in zip(units, attrs["country"], strict=True)]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """A static HTTP server on 127.0.0.1 serving ``tmp_path``."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_snapshot_round_trip_over_http(tmp_path: Path, served: str) -> None:
    doc = build_snapshot([CHECKOUT], FLAGS, project="demo")
    (tmp_path / "snapshot.json").write_text(json.dumps(doc), encoding="utf-8")
    remote = Client.from_snapshot(served + "/snapshot.json")
    local = Client([CHECKOUT], FLAGS)
    for i in range(200):
        unit, attrs = f"user-{i}", {"country": "DE", "age": i % 40}
        assert remote.variant("checkout_v2", unit, attrs) == local.variant("checkout_v2", unit,
                                                                           attrs)
        assert remote.flag("dark_mode", unit, attrs) == local.flag("dark_mode", unit, attrs)
    assert Client.from_snapshot(tmp_path / "snapshot.json").experiments == remote.experiments


def test_snapshot_with_other_hash_version_is_refused(tmp_path: Path) -> None:
    doc = build_snapshot([CHECKOUT]) | {"hash_version": 2}
    (tmp_path / "s.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(AssayError, match="hash version 2"):
        Client.from_snapshot(tmp_path / "s.json")
    with pytest.raises(AssayError, match="cannot read snapshot"):
        Client.from_snapshot(tmp_path / "missing.json")


def test_load_flags_from_project_folder(tmp_path: Path) -> None:
    (tmp_path / "flags").mkdir()
    (tmp_path / "flags" / "ui.yml").write_text(
        "flags:\n  - name: dark_mode\n    rollout: 0.5\n    value: true\n    default: false\n",
        encoding="utf-8")
    assert load_flags(tmp_path)["dark_mode"].rollout == 0.5
    (tmp_path / "flags" / "bad.yml").write_text("flags:\n  - name: x\n", encoding="utf-8")
    with pytest.raises(SpecError, match="exactly one of `experiment` or `rollout`"):
        load_flags(tmp_path)
