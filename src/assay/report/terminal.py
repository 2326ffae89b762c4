"""Tables for people, in the terminal (rich)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from assay.report.format import interval, map_strings, num, p, pct
from assay.report.intervals import ci_header, interval_note, shown_intervals
from assay.results import AnalysisResult, MetricResult, decide, is_loss, is_win

_STATUS = {"pass": "[green]✔ pass[/]", "warn": "[yellow]▲ warn[/]", "fail": "[red]✘ fail[/]"}
_VERDICT = {"ship": "green", "do not ship": "red", "inconclusive": "yellow", "untrustworthy": "red"}


def render_terminal(result: AnalysisResult, console: Console, *, segments: bool = False) -> None:
    """Print the arms, metric results, checks and the decision."""
    decision, header = decide(result), _header(result)  # plain Text: no markup to escape
    result = map_strings(result, escape)  # data and names may hold markup: `[/]` prints as is
    title = f"{result.experiment}" + (f" — {result.name}" if result.name else "")
    console.print(Panel(Group(*header), title=title, expand=False))
    console.print(_arms(result))
    console.print(_metrics(result.results, result, "Results"))
    if segments and result.segments:
        console.print(_metrics(result.segments, result, "Results by segment", by_segment=True))
    readouts = _readouts(result)
    if readouts is not None:
        console.print(readouts)
    if result.rank_tests:
        console.print(_ranks(result))
    if result.bootstrap:
        console.print(_bootstrap(result))
    console.print(_checks(result))
    colour = _VERDICT.get(decision.verdict, "white")
    body = "\n".join(f"• {escape(r)}" for r in decision.reasons)
    console.print(
        Panel(body, title=f"[bold {colour}]Decision: {decision.verdict}[/]", expand=False)
    )


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
            arm.variant + marker,
            f"{arm.units:,}",
            f"{arm.observed_share:.2%}",
            f"{arm.expected_share:.2%}",
            f"{arm.exposure_rows:,}",
        )
    return table


def _metrics(
    results: list[MetricResult], result: AnalysisResult, title: str, by_segment: bool = False
) -> Table:
    table = Table(title=title, title_justify="left")
    ci = ci_header(result)
    columns = [
        "metric",
        "variant",
        "control",
        "treatment",
        escape(f"abs. lift [{ci}]"),
        escape(f"rel. lift [{ci}]"),
        "p",
        "p adj.",
        "",
        "CUPED VR",
    ]
    if by_segment:
        columns.insert(0, "segment")
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("metric", "variant", "segment") else "right"
        )
    for r in results:
        row = [
            f"{r.metric}"
            + (" ★" if r.role == "primary" else " ⛨" if r.role == "guardrail" else ""),
            r.variant,
        ]
        if by_segment:
            row.insert(0, f"{r.segment}={r.segment_value}")
        if r.error is not None:
            row += [
                num(r.mean_control),
                num(r.mean_treatment),
                f"[red]{r.error}[/]",
                "",
                "",
                "",
                "",
                "",
            ]
        else:
            diff_ci, lift_ci = shown_intervals(r)
            row += [
                num(r.mean_control),
                num(r.mean_treatment),
                f"{num(r.diff)} {interval(diff_ci)}",
                f"{pct(r.rel_lift)} {interval(lift_ci, as_pct=True)}",
                p(r.p_value),
                p(r.p_value_adjusted),
                _marker(r),
                "—" if r.cuped_variance_reduction is None else f"{r.cuped_variance_reduction:.0%}",
            ]
        table.add_row(*row)
    caption = "★ primary  ⛨ guardrail  ● significant after correction (green: good, red: bad)"
    note = interval_note(result)
    table.caption = caption if note is None else f"{caption}\n{note}"
    return table


def _marker(r: MetricResult) -> str:
    if is_win(r):
        return "[bold green]● better[/]"
    if is_loss(r):
        return "[bold red]● worse[/]"
    return "[dim]○ n.s.[/]"


def _readouts(result: AnalysisResult) -> Table | None:
    """Sequential verdicts and Bayesian posteriors, when the experiment asks for them."""
    rows = [r for r in result.results if r.sequential_method or r.prob_beat_control is not None]
    if not rows:
        return None
    table = Table(title="Sequential and Bayesian readout", title_justify="left")
    for column in (
        "metric",
        "variant",
        "sequential",
        "always-valid p adj. / boundary",
        "interval",
        "P(beat control)",
        "credible interval",
        "expected loss",
    ):
        table.add_column(
            column, justify="left" if column in ("metric", "variant", "sequential") else "right"
        )
    for r in rows:
        if r.sequential_boundary is not None:
            verdict = f"|z| ≥ {r.sequential_boundary:.3f}: " + (
                "crossed" if r.sequential_crossed else "not crossed"
            )
        else:
            adjusted = r.sequential_p_value_adjusted
            verdict = p(adjusted) if adjusted is not None else ""
        table.add_row(
            r.metric,
            r.variant,
            r.sequential_method or "",
            verdict,
            interval(r.sequential_ci) if r.sequential_ci else "",
            "" if r.prob_beat_control is None else f"{r.prob_beat_control:.1%}",
            interval(r.credible_interval, as_pct=True) if r.credible_interval else "",
            "" if r.expected_loss is None else pct(r.expected_loss),
        )
    return table


def _ranks(result: AnalysisResult) -> Table:
    table = Table(
        title="Rank tests (Mann-Whitney, not part of the corrected family)", title_justify="left"
    )
    for column in ("metric", "variant", "n control", "n treatment", "P(T > C)", "p"):
        table.add_column(column, justify="left" if column in ("metric", "variant") else "right")
    for r in result.rank_tests:
        table.add_row(
            r.metric,
            r.variant,
            f"{r.n_control:,.0f}",
            f"{r.n_treatment:,.0f}",
            "[red]" + r.error + "[/]" if r.error else f"{r.auc:.4f}",
            p(r.p_value),
        )
    return table


def _bootstrap(result: AnalysisResult) -> Table:
    table = Table(title="Poisson bootstrap (percentile intervals)", title_justify="left")
    for column in ("metric", "variant", "replicates", "abs. lift [CI]", "rel. lift [CI]"):
        table.add_column(column, justify="left" if column in ("metric", "variant") else "right")
    for b in result.bootstrap:
        if b.error:
            table.add_row(b.metric, b.variant, str(b.replicates), f"[red]{b.error}[/]", "")
            continue
        table.add_row(
            b.metric,
            b.variant,
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
        table.add_row(_STATUS[check.status], check.name, check.message)
    return table

