"""``assay assign``, ``assay hash``, ``assay snapshot`` and ``assay collect``."""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.app import ProjectOption, app, console, err_console
from assay.cli.errors import reported
from assay.errors import AssayError


@app.command()
@reported
def assign(
    experiment: Annotated[str, typer.Argument(help="Experiment id.")],
    units: Annotated[Path, typer.Option(
        "--units", "-u", help="A CSV with a header (unit id column + attribute columns), or a "
        "text file with one unit id per line.", exists=True, dir_okay=False)],
    project: ProjectOption = Path("."),
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write the CSV here (default: stdout).")
                      ] = None,
    unit_column: Annotated[str, typer.Option(help="Unit id column of a CSV.")] = "unit_id",
    explain: Annotated[bool, typer.Option(help="Add the deciding gate as a `reason` column.")
                       ] = False,
) -> None:
    """Assign a list of units to EXPERIMENT's variants (the SDK's answer, offline).

    Writes CSV ``unit_id,bucket,variant`` (variant empty: not in the experiment). Attributes
    for targeting rules are the other columns of a CSV, with their types inferred.

    Examples:

        assay assign checkout_v2 --units users.txt

        assay assign checkout_v2 --units users.csv --explain -o assigned.csv
    """
    from assay.assign.engine import compile_experiments
    from assay.spec import load_project

    loaded = load_project(project)
    loaded.experiment(experiment)  # a located error with a hint if unknown
    compiled = compile_experiments(loaded.experiments)[experiment]
    ids, attributes = _read_units(units, unit_column)
    variants = compiled.variants(ids, attributes or None)
    bucket_of = compiled.hasher.buckets(ids)
    rows: list[list[Any]] = []
    for i, uid in enumerate(ids):
        row = [uid, int(bucket_of[i]), variants[i] or ""]
        if explain:
            attrs = {k: v[i] for k, v in attributes.items()} if attributes else None
            row.append(compiled.explain(uid, attrs).reason)
        rows.append(row)
    handle = open(output, "w", newline="", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
    try:
        writer = csv.writer(handle)
        writer.writerow(["unit_id", "bucket", "variant", *(["reason"] if explain else [])])
        writer.writerows(rows)
    finally:
        if output:
            handle.close()
    counts = Counter(v or "(not in experiment)" for v in variants.tolist())
    err_console.print(f"{len(ids)} units: " + ", ".join(f"{k} {n}" for k, n in
                                                         sorted(counts.items())))


def _read_units(path: Path, unit_column: str) -> tuple[list[str], dict[str, list[Any]]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with path.open(encoding="utf-8") as handle:
        first = handle.readline()
        if path.suffix.lower() != ".csv" and "," not in first:
            ids = [first.rstrip("\r\n")] + [line.rstrip("\r\n") for line in handle]
            return [u for u in ids if u], {}
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={unit_column: pa.string()}))
    except pa.ArrowInvalid as err:
        raise AssayError(f"cannot read {path} as CSV: {err}") from err
    if unit_column not in table.column_names:
        raise AssayError(f"{path} has no `{unit_column}` column (columns: "
                         f"{', '.join(table.column_names)}); use --unit-column")
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    ids = [str(u) for u in columns.pop(unit_column)]
    return ids, columns


@app.command(name="hash")
def hash_command(
    salt: Annotated[str, typer.Argument(help="The salt (an experiment's salt or id).")],
    unit_id: Annotated[str, typer.Argument(help="The unit id.")],
) -> None:
    """Show every step of hash version 1 for one unit (to check another implementation).

    Example:

        assay hash checkout_v2 user-42
    """
    from assay.assign.hashing import bucket, hash32, hash_input

    raw = hash_input(salt, unit_id)
    console.print(f"bytes (UTF-8 of salt:unit_id)  {raw.hex()}", highlight=False)
    console.print(f"md5                            {hashlib.md5(raw).hexdigest()}",
                  highlight=False)
    console.print(f"first 4 bytes, big-endian      {hash32(salt, unit_id)}", highlight=False)
    console.print(f"bucket (mod 10000)             {bucket(salt, unit_id)}", highlight=False)


@app.command()
@reported
def snapshot(
    project: ProjectOption = Path("."),
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write here (default: stdout).")] = None,
) -> None:
    """Export experiments and flags as a JSON snapshot for SDKs (serve it over HTTP).

    Load it with ``Client.from_snapshot("https://host/snapshot.json")``.

    Example:

        assay snapshot -o public/snapshot.json
    """
    from assay.assign.flags import load_flags
    from assay.assign.snapshot import build_snapshot
    from assay.spec import load_project

    loaded = load_project(project)
    doc = build_snapshot(loaded.experiments.values(), load_flags(loaded.root).values(),
                         project=loaded.spec.name)
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text + "\n", encoding="utf-8")
        err_console.print(f"wrote {output} ({len(doc['experiments'])} experiments, "
                          f"{len(doc['flags'])} flags)")


@app.command()
@reported
def collect(
    project: ProjectOption = Path("."),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8787,
    data_dir: Annotated[Path | None, typer.Option(
        help="Where the journal lives (default: PROJECT/.assay/collector).")] = None,
    events_table: Annotated[str, typer.Option(help="Table of metric events.")] = "assay_events",
    retry_max: Annotated[float, typer.Option(
        help="Longest wait, in seconds, between the loader's retries after a failure.")] = 30.0,
) -> None:
    """Run the exposure collector: HTTP in, durable journal, batched loads into the warehouse.

    Batches are acknowledged only after they are fsynced; a retried batch id is not counted
    twice; invalid events are rejected with a reason and counted (GET /v1/stats).

    Example:

        assay collect --port 8787 &
        curl -s localhost:8787/v1/exposures -d '{"batch_id": "b1", "events": [{"experiment_id":
        "checkout_v2", "variant": "treatment", "unit_id": "u1",
        "timestamp": "2026-11-22T08:00:00Z"}]}'
    """
    from assay.exposure.collector import Collector, serve
    from assay.spec import load_project

    loaded = load_project(project)
    collector = Collector(loaded.experiments, loaded.warehouse,
                          data_dir or loaded.root / ".assay" / "collector",
                          columns=loaded.spec.exposures, events_table=events_table,
                          retry_max=retry_max)
    err_console.print(f"assay collector on http://{host}:{port} "
                      f"({len(loaded.experiments)} experiments)")
    serve(collector, host=host, port=port)
