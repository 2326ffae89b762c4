"""``assay power``: sample size, MDE, achieved power and duration of an experiment."""

from __future__ import annotations

import json
import math
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table

from assay.cli.app import app, console, err_console
from assay.cli.errors import EXIT_SPEC, reported


class MetricKindOption(StrEnum):
    """Metric kinds ``assay power`` plans for."""

    mean = "mean"
    proportion = "proportion"
    ratio = "ratio"


class SequentialOption(StrEnum):
    """Sequential designs whose inflation ``assay power`` applies."""

    none = "none"
    obf = "obf"
    pocock = "pocock"
    msprt = "msprt"


class MdeScale(StrEnum):
    """Whether ``--mde`` is relative to the baseline or absolute."""

    relative = "relative"
    absolute = "absolute"


class OutputFormat(StrEnum):
    """Output formats."""

    table = "table"
    json = "json"


class AlternativeOption(StrEnum):
    """Alternative hypotheses."""

    two_sided = "two-sided"
    greater = "greater"
    less = "less"


@app.command("power")
def power(
    metric_kind: Annotated[MetricKindOption, typer.Option(
        "--metric-kind", help="mean, proportion (conversion rate) or ratio (e.g. clicks/views)."
    )] = MetricKindOption.mean,
    baseline_mean: Annotated[float | None, typer.Option(
        help="Control mean (mean metric) or ratio (ratio metric).")] = None,
    std: Annotated[float | None, typer.Option(
        help="Per-unit standard deviation (for a ratio: of its delta-method linearisation).")
    ] = None,
    baseline_rate: Annotated[float | None, typer.Option(
        help="Control conversion rate in (0, 1) (proportion metric).")] = None,
    mde: Annotated[float | None, typer.Option(
        help="Minimum detectable effect, relative by default (0.02 = +2%); see --mde-scale.")
    ] = None,
    mde_scale: Annotated[MdeScale, typer.Option(
        help="Whether --mde is relative to the baseline or absolute.")] = MdeScale.relative,
    alpha: Annotated[float, typer.Option(help="Overall significance level.")] = 0.05,
    power_: Annotated[float, typer.Option("--power", help="Wanted power.")] = 0.8,
    arms: Annotated[int, typer.Option(
        help="Arms including control (equal split; alpha split over the comparisons).")] = 2,
    alternative: Annotated[AlternativeOption, typer.Option(help="Alternative hypothesis.")
                           ] = AlternativeOption.two_sided,
    cuped_reduction: Annotated[float, typer.Option(
        help="Expected CUPED variance reduction in [0, 1), e.g. 0.3.")] = 0.0,
    daily_units: Annotated[float | None, typer.Option(
        help="Units entering the experiment per day (all arms), for the duration.")] = None,
    sequential: Annotated[SequentialOption, typer.Option(
        help="Sequential design: obf / pocock (group sequential) or msprt.")
    ] = SequentialOption.none,
    looks: Annotated[int, typer.Option(help="Looks of a group sequential design.")] = 10,
    units_per_arm: Annotated[float | None, typer.Option(
        help="Instead of a sample size: report the MDE (and power at --mde) for this size.")
    ] = None,
    output_format: Annotated[OutputFormat, typer.Option(
        "--format", help="table or json.")] = OutputFormat.table,
    metric: Annotated[str | None, typer.Option(
        help="Plan from this metric's history in the warehouse (baseline, std and CUPED "
             "reduction measured, not guessed); needs --history-start.")] = None,
    history_start: Annotated[datetime | None, typer.Option(
        help="Start of the past period the history is read from.", formats=["%Y-%m-%d"])
    ] = None,
    history_days: Annotated[int, typer.Option(help="Length of that period in days.")] = 14,
    population: Annotated[str | None, typer.Option(
        help="Named source whose units form the population (default: units in the exposure "
             "log during the period).")] = None,
    project: Annotated[Path, typer.Option(
        "--project", "-p", help="Project directory (for --metric).", file_okay=False,
        resolve_path=True)] = Path("."),
) -> None:
    """Plan an experiment: units per arm, total units and days to detect an effect.

    Examples:

        assay power --metric-kind proportion --baseline-rate 0.05 --mde 0.1

        assay power --baseline-mean 42 --std 30 --mde 0.02 --cuped-reduction 0.3
        --daily-units 20000 --sequential obf --looks 5

        assay power --metric-kind proportion --baseline-rate 0.05 --units-per-arm 20000 --mde 0.1

        assay power --metric revenue --history-start 2026-02-01 --mde 0.03 --daily-units 4000
    """
    from assay.stats.planning import achieved, plan_experiment

    if metric is not None:
        if mde is None or history_start is None:
            _fail("--metric needs --mde and --history-start")
        options = {"alpha": alpha, "power": power_, "arms": arms, "daily_units": daily_units,
                   "alternative": alternative.value, "sequential": sequential.value,
                   "looks": looks, "mde_relative": mde_scale is MdeScale.relative}
        if cuped_reduction:
            options["cuped_reduction"] = cuped_reduction
        result = _from_history(project, metric, history_start, history_days, population, mde,
                               options)
        _print(result, output_format)
        return

    kind = metric_kind.value
    baseline = baseline_rate if kind == "proportion" else baseline_mean
    if baseline is None:
        _fail("--baseline-rate is required" if kind == "proportion"
              else "--baseline-mean is required")
    relative = mde_scale is MdeScale.relative
    try:
        if units_per_arm is not None:
            result = {
                "metric_kind": kind, "baseline": baseline, "units_per_arm": units_per_arm,
                "alpha": alpha, "power": power_, "cuped_reduction": cuped_reduction,
                **achieved(metric_kind=kind, baseline=baseline,  # type: ignore[arg-type]
                           units_per_arm=units_per_arm, std=std, mde=mde, mde_relative=relative,
                           alpha=alpha, power=power_, alternative=alternative.value,
                           cuped_reduction=cuped_reduction)}
            if mde is not None:
                result["power_at_mde"] = result.pop("power")
                result["power"] = power_
        else:
            if mde is None:
                _fail("--mde is required (or give --units-per-arm to get the MDE)")
            plan = plan_experiment(
                metric_kind=kind, baseline=baseline, mde=mde, mde_relative=relative,  # type: ignore[arg-type]
                std=std, alpha=alpha, power=power_, arms=arms,
                alternative=alternative.value,
                cuped_reduction=cuped_reduction, daily_units=daily_units,
                sequential=sequential.value, looks=looks)
            result = plan.to_dict()
    except ValueError as err:
        _fail(str(err))
    _print(result, output_format)


@reported
def _from_history(project: Path, metric: str, start: datetime, days: int,
                  population: str | None, mde: float, options: dict[str, Any]) -> dict[str, Any]:
    """Plan from the metric's moments over a past period, read from the warehouse."""
    from assay.analysis.history import metric_history
    from assay.spec import load_project
    from assay.stats.planning import plan_from_history

    loaded = load_project(project)
    kind = loaded.metrics[metric].kind
    if kind == "quantile":
        _fail(f"{metric}: power from history needs a mean, proportion or ratio metric; "
              "a quantile metric's power is not planned from moments")
    moments = metric_history(loaded, metric, start, days, population=population)
    covariate = "x" if kind != "ratio" and "x" in moments.names else None
    try:
        plan = plan_from_history(moments, metric_kind=kind, mde=mde, x=covariate, **options)
    except ValueError as err:
        _fail(f"{metric}: {err}")
    result: dict[str, Any] = {"metric": metric, "history_units": int(moments.n),
                              "history": f"{start:%Y-%m-%d} + {days}d", **plan.to_dict()}
    return result


def _print(result: dict[str, Any], output_format: OutputFormat) -> None:
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(result, indent=2, default=_json_default))
    else:
        _render(result)


def _json_default(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_SPEC)


_LABELS = {
    "metric_kind": "metric kind", "baseline": "baseline", "std": "std per unit (after CUPED)",
    "mde_absolute": "MDE (absolute)", "mde_relative": "MDE (relative)", "alpha": "alpha",
    "alpha_per_comparison": "alpha per comparison", "power": "power", "arms": "arms",
    "cuped_reduction": "CUPED variance reduction", "sequential": "sequential design",
    "looks": "looks", "fixed_units_per_arm": "fixed-horizon units per arm",
    "inflation": "sequential inflation", "units_per_arm": "units per arm",
    "total_units": "total units", "days": "days", "power_at_mde": "power at the MDE",
}


def _render(result: dict[str, Any]) -> None:
    table = Table(title="assay power", show_header=False)
    table.add_column("quantity", style="bold")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key == "notes" or value is None:
            continue
        table.add_row(_LABELS.get(key, key), _fmt(key, value))
    console.print(table)
    for note in result.get("notes", []):
        console.print(f"[dim]note: {note}[/]")


def _fmt(key: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key in ("mde_relative", "cuped_reduction"):
        return f"{value:.2%}"
    if isinstance(value, int) or key.endswith(("units", "units_per_arm")) or key == "days":
        return f"{value:,.0f}"
    return f"{value:.4g}"
