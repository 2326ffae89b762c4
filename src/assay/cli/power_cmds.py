"""``assay power``: sample size, MDE, achieved power and duration of an experiment."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
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
    from_archive: Annotated[str | None, typer.Option(
        "--from-archive", metavar="METRIC",
        help="Plan from the effects past experiments observed on METRIC (read from the results "
             "store): their distribution, the size to detect the median, and a warning when "
             "--mde is above the 90th percentile.")] = None,
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

        assay power --metric revenue --history-start 2026-02-23 --mde 0.03 --daily-units 4000

        assay power --metric revenue --history-start 2026-01-19 --population sessions --mde 0.03

        assay power --from-archive revenue --mde 0.05 --daily-units 4000
    """
    from assay.stats.planning import achieved, plan_experiment

    if from_archive is not None:
        options = {"alpha": alpha, "power": power_, "arms": arms, "daily_units": daily_units,
                   "alternative": alternative.value}
        _print(_from_archive(project, from_archive, mde, options), output_format)
        return
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
    if kind not in ("mean", "proportion", "ratio"):
        _fail(f"{metric}: power from history needs a mean, proportion or ratio metric; "
              f"a {kind} metric's power is not planned from moments")
    moments = metric_history(loaded, metric, start, days, population=population)
    if moments.n == 0:
        where = (f"with an event in source `{population}`" if population is not None
                 else "exposed to any experiment")
        _fail(f"{metric}: no unit was {where} between {start:%Y-%m-%d} and "
              f"{start + timedelta(days=days):%Y-%m-%d}, so the history has no baseline; pick "
              "a period with data, or take the population from a source that has it, e.g. "
              "--population " + next((name for name in loaded.spec.sources
                                      if name != loaded.metrics[metric].source), "SOURCE"))
    covariate = "x" if kind != "ratio" and "x" in moments.names else None
    try:
        plan = plan_from_history(moments, metric_kind=kind, mde=mde, x=covariate, **options)
    except ValueError as err:
        _fail(f"{metric}: {err}")
    result: dict[str, Any] = {"metric": metric, "history_units": int(moments.n),
                              "history": f"{start:%Y-%m-%d} + {days}d", **plan.to_dict()}
    return result


@reported
def _from_archive(project: Path, metric: str, mde: float | None,
                  options: dict[str, Any]) -> dict[str, Any]:
    """The distribution of past effects on ``metric`` and a plan to detect their median."""
    from contextlib import closing

    import numpy as np

    from assay.analysis.archive import archive_effects
    from assay.spec import load_project
    from assay.spec.errors import unknown_name
    from assay.stats.planning import plan_experiment

    loaded = load_project(project)
    if metric not in loaded.metrics:
        raise unknown_name(str(loaded.root), "metric", metric, list(loaded.metrics))
    with closing(loaded.warehouse()) as wh:
        archive = archive_effects(loaded, metric, wh)
    if not archive.effects:
        _fail(f"{metric}: no stored analysis of a past experiment compares it (skipped: "
              f"{archive.skipped or 'none'}); run `assay analyze` on past experiments first")
    quantiles = archive.abs_lift_quantiles
    median = quantiles["q50"]
    kind = loaded.metrics[metric].kind
    if kind not in ("mean", "proportion", "ratio"):
        _fail(f"{metric}: a plan from the archive needs a mean, proportion or ratio metric; "
              f"a {kind} metric's power is not planned from moments")
    baseline = float(np.median([e.baseline for e in archive.effects]))
    std = float(np.median([e.std for e in archive.effects]))
    notes = list(archive.notes)
    if mde is not None and mde > quantiles["q90"]:
        notes.append(f"the planned MDE {mde:.1%} is above the 90th percentile of past effects "
                     f"({quantiles['q90']:.2%}): nine in ten past changes moved {metric} less, "
                     "so expect an inconclusive result or plan for a smaller MDE")
    result: dict[str, Any] = {
        "metric": metric, "past_comparisons": len(archive.effects),
        "skipped": archive.skipped, "significant_share": float(np.mean(
            [e.significant for e in archive.effects])),
        **{f"abs_lift_{k}": v for k, v in quantiles.items()},
        "true_effect_spread": archive.true_spread,
        "shrunk_median_abs_lift": archive.shrunk_median_abs_lift,
    }
    if median > 0:
        try:
            plan = plan_experiment(metric_kind=kind, baseline=baseline, mde=median,
                                   std=None if kind == "proportion" else std, **options)
            result.update({f"median_{k}": v for k, v in plan.to_dict().items()
                           if k in ("units_per_arm", "total_units", "days")})
        except ValueError as err:
            notes.append(f"no plan for the median effect: {err}")
    result["notes"] = notes
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
    "past_comparisons": "past comparisons", "significant_share": "share significant",
    "abs_lift_q25": "|lift| 25th percentile", "abs_lift_q50": "|lift| median",
    "abs_lift_q75": "|lift| 75th percentile", "abs_lift_q90": "|lift| 90th percentile",
    "true_effect_spread": "spread of true effects", "shrunk_median_abs_lift":
    "median |true effect| (shrunk)", "median_units_per_arm": "units per arm for the median",
    "median_total_units": "total units for the median", "median_days": "days for the median",
}


def _render(result: dict[str, Any]) -> None:
    table = Table(title="assay power", show_header=False)
    table.add_column("quantity", style="bold")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key == "notes" or value is None or value == {}:
            continue
        table.add_row(_LABELS.get(key, key), _fmt(key, value))
    console.print(table)
    for note in result.get("notes", []):
        console.print(f"[dim]note: {note}[/]")


def _fmt(key: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key in ("mde_relative", "cuped_reduction", "significant_share", "true_effect_spread",
               "shrunk_median_abs_lift") or key.startswith("abs_lift_"):
        return f"{value:.2%}"
    if isinstance(value, int) or key.endswith(("units", "units_per_arm", "days")):
        return f"{value:,.0f}"
    return f"{value:.4g}"
