"""Tables for people, in the terminal (rich)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from assay.report.figures import adjustment_notes, figures, metric_label
from assay.report.format import decimals_for, interval, num, p, pct
from assay.report.intervals import ci_header, interval_note
from assay.report.layout import Column, build, natural_width
from assay.results import AnalysisResult, MetricResult, decide, is_loss, is_win

_STATUS = {"pass": "[green]✔ pass[/]", "warn": "[yellow]▲ warn[/]", "fail": "[red]✘ fail[/]"}
_VERDICT = {"ship": "green", "do not ship": "red", "inconclusive": "yellow", "untrustworthy": "red"}


def render_terminal(
    result: AnalysisResult, console: Console, *, segments: bool = False, wide: bool = False
) -> None:
    """Print the arms, metric results, checks and the decision.

    Tables fit ``console.width``: less important columns are left out (and named) rather than
    any number being cut; ``wide`` shows every column whatever the width. User strings
    (names, variants, segment values) are printed as text, never read as markup.
    """
    width = console.width
    title = Text(result.experiment + (f" — {result.name}" if result.name else ""))
    console.print(Panel(Group(*_header(result)), title=title, expand=False))
    console.print(_arms(result))
    _print(console, _metrics(result.results, result, "Results", width, wide), wide)
    for note in adjustment_notes(result.results):
        console.print(Text(f"Regression adjustment · {note}"))
    if segments and result.segments:
        for (segment, value), rows in _by_segment(result.segments).items():
            caption = f"Results in segment {segment} = {value}"
            _print(console, _metrics(rows, result, caption, width, wide), wide)
    readouts = _readouts(result, width, wide)
    if readouts is not None:
        _print(console, readouts, wide)
    if result.rank_tests:
        console.print(_ranks(result))
    if result.bootstrap:
        console.print(_bootstrap(result))
    console.print(_checks(result))
    decision = decide(result)
    colour = _VERDICT.get(decision.verdict, "white")
    body = Text("\n".join(f"• {r}" for r in decision.reasons))
    heading = Text(f"Decision: {decision.verdict}", style=f"bold {colour}")
    console.print(Panel(body, title=heading, expand=False))


def _print(console: Console, table: Table, wide: bool) -> None:
    """Print a table; a ``wide`` one at its natural width, not cut to the terminal's."""
    if wide:
        # rich never prints wider than its console: widen the console for this table alone
        width = console.width
        console.width = max(width, natural_width(table))
        try:
            console.print(table, crop=False)
        finally:
            console.width = width
    else:
        console.print(table)


def _header(result: AnalysisResult) -> list[Text]:
    lines = []
    if result.hypothesis:
        lines.append(Text(f"Hypothesis: {result.hypothesis}"))
    lines.append(
        Text(
            f"{result.units:,} units · alpha {result.alpha} · correction "
            f"{result.correction} · CUPED {'on' if result.cuped else 'off'} · "
            f"warehouse {result.warehouse}"
        )
    )
    return lines


def _arms(result: AnalysisResult) -> Table:
    table = Table(title="Arms", title_justify="left")
    for column in ("variant", "units", "observed", "intended", "exposure rows"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for arm in result.arms:
        marker = " (control)" if arm.variant == result.control else ""
        table.add_row(
            Text(arm.variant + marker),
            f"{arm.units:,}",
            f"{arm.observed_share:.2%}",
            f"{arm.expected_share:.2%}",
            f"{arm.exposure_rows:,}",
        )
    return table


def _by_segment(rows: list[MetricResult]) -> dict[tuple[str, str], list[MetricResult]]:
    """Segment results grouped by (segment, value), in their order."""
    groups: dict[tuple[str, str], list[MetricResult]] = {}
    for r in rows:
        groups.setdefault((str(r.segment), str(r.segment_value)), []).append(r)
    return groups


def _metrics(
    results: list[MetricResult], result: AnalysisResult, title: str, width: int, wide: bool
) -> Table:
    """Metric comparisons, as many columns as fit ``width`` (most important first).

    With one treatment the variant column is the first to go (the caption names the
    comparison); with several it always stays.
    """
    ci = ci_header(result)
    several = len(result.arms) > 2
    columns = {
        "metric": Column("metric", 0, "left", foldable=True),
        "variant": Column("variant", 0 if several else 4, "left", foldable=True),
        "control": Column("control", 3, group="means"),
        "treatment": Column("treatment", 3, group="means"),
        "diff": Column(f"abs. lift [{ci}]", 5),
        "lift": Column(f"rel. lift [{ci}]", 0),
        "p": Column("p", 6),
        "p_adj": Column("p adj.", 1),
        "verdict": Column("", 0, "left"),
        "cuped": Column("CUPED VR", 7),
    }
    for r in results:
        f = figures(r)
        columns["metric"].add(metric_label(r))
        columns["variant"].add(r.variant)
        columns["control"].add(f.control)
        columns["treatment"].add(f.treatment)
        if f.error is not None:
            columns["lift"].add(Text(f.error, style="red"))
            for key in ("diff", "p", "p_adj", "verdict"):
                columns[key].add("")
        else:
            columns["diff"].add(f"{f.diff} {f.diff_ci}")
            columns["lift"].add(f"{f.lift} {f.lift_ci}")
            columns["p"].add(f.p)
            columns["p_adj"].add(f.p_adjusted)
            columns["verdict"].add(_marker(r))
        columns["cuped"].add(f.cuped)
    table = build(title, list(columns.values()), width, wide)
    legend = "★ primary  ⛨ guardrail  ● significant after correction (green: good, red: bad)"
    if not several and results and "variant" not in _headers(table):
        legend = f"{results[0].variant} vs {result.control}.  {legend}"
    note = interval_note(result)
    hidden = table.caption.plain if isinstance(table.caption, Text) else ""
    table.caption = Text("\n".join(p for p in (legend, note, hidden) if p))
    return table


def _headers(table: Table) -> set[str]:
    return {str(c.header) for c in table.columns}


def _marker(r: MetricResult) -> Text:
    if is_win(r):
        return Text("● better", style="bold green")
    if is_loss(r):
        return Text("● worse", style="bold red")
    return Text("○ n.s.", style="dim")


def _readouts(result: AnalysisResult, width: int, wide: bool) -> Table | None:
    """Sequential verdicts and Bayesian posteriors, when the experiment asks for them."""
    rows = [r for r in result.results if r.sequential_method or r.prob_beat_control is not None]
    if not rows:
        return None
    columns = [
        Column("metric", 0, "left", foldable=True),
        Column("variant", 1, "left", foldable=True),
        Column("sequential", 2, "left"),
        Column("always-valid p adj. / boundary", 2),
        Column("interval", 4),
        Column("P(beat control)", 2),
        Column("credible interval", 3),
        Column("expected loss", 5),
    ]
    for r in rows:
        if r.sequential_boundary is not None:
            verdict = f"|z| ≥ {r.sequential_boundary:.3f}: " + (
                "crossed" if r.sequential_crossed else "not crossed"
            )
        else:
            adjusted = r.sequential_p_value_adjusted
            verdict = p(adjusted) if adjusted is not None else ""
        cells = [
            r.metric,
            r.variant,
            r.sequential_method or "",
            verdict,
            interval(r.sequential_ci, decimals=decimals_for(r.diff_se)) if r.sequential_ci else "",
            "" if r.prob_beat_control is None else f"{r.prob_beat_control:.1%}",
            interval(r.credible_interval, as_pct=True) if r.credible_interval else "",
            "" if r.expected_loss is None else pct(r.expected_loss),
        ]
        for column, cell in zip(columns, cells, strict=True):
            column.add(cell)
    return build("Sequential and Bayesian readout", columns, width, wide)


def _ranks(result: AnalysisResult) -> Table:
    table = Table(
        title="Rank tests (Mann-Whitney, not part of the corrected family)", title_justify="left"
    )
    for column in ("metric", "variant", "n control", "n treatment", "P(T > C)", "p"):
        table.add_column(column, justify="left" if column in ("metric", "variant") else "right")
    for r in result.rank_tests:
        table.add_row(
            Text(r.metric),
            Text(r.variant),
            f"{r.n_control:,.0f}",
            f"{r.n_treatment:,.0f}",
            Text(r.error, style="red") if r.error else f"{r.auc:.4f}",
            p(r.p_value),
        )
    return table


def _bootstrap(result: AnalysisResult) -> Table:
    table = Table(title="Poisson bootstrap (percentile intervals)", title_justify="left")
    for column in ("metric", "variant", "replicates", "abs. lift [CI]", "rel. lift [CI]"):
        table.add_column(column, justify="left" if column in ("metric", "variant") else "right")
    for b in result.bootstrap:
        if b.error:
            table.add_row(
                Text(b.metric), Text(b.variant), str(b.replicates), Text(b.error, style="red"), ""
            )
            continue
        table.add_row(
            Text(b.metric),
            Text(b.variant),
            str(b.replicates),
            f"{num(b.diff)} {interval(b.diff_ci)}",
            f"{pct(b.rel_lift)} {interval(b.rel_lift_ci, as_pct=True)}",
        )
    return table


def _checks(result: AnalysisResult) -> Table:
    table = Table(title="Health checks", title_justify="left")
    table.add_column("status")
    table.add_column("check")
    table.add_column("detail", overflow="fold")
    for check in result.checks:
        detail = Text(check.message)
        if check.remedy and check.status != "pass":
            detail.append(f"\nwhat to do: {check.remedy}", style="dim")
        table.add_row(_STATUS[check.status], Text(check.name), detail)
    return table
