"""Markdown decision documents, with a forest plot of relative lifts when matplotlib is present."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from assay.report.figures import figures
from assay.report.format import interval, map_strings, markdown_text, num, p, pct
from assay.report.intervals import (
    axis_label,
    ci_header,
    interval_note,
    shown_intervals,
    verdict_beyond_interval,
)
from assay.results import AnalysisResult, Check, MetricResult, decide, is_loss, is_win

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌"}


def render_markdown(result: AnalysisResult, plot: str | None = None) -> str:
    """The decision document of one analysis (``plot``: relative path of a lift chart)."""
    decision, sql_text = decide(result), result.sql
    result = map_strings(result, markdown_text)  # names and data never become markup
    lines = [f"# {result.name or result.experiment}", ""]
    if result.name:
        lines += [f"Experiment `{result.experiment}`", ""]
    lines += [f"**Decision: {decision.verdict.upper()}**", ""]
    lines += [f"- {markdown_text(reason)}" for reason in decision.reasons] + [""]
    if result.hypothesis:
        lines += ["## Hypothesis", "", result.hypothesis, ""]
    lines += [
        "## Design",
        "",
        f"- Control: `{result.control}`; alpha {result.alpha}; multiple-comparison "
        f"correction: {result.correction}; CUPED: {'on' if result.cuped else 'off'}",
        f"- Units analysed: {result.units:,}"
        + (f" of {result.planned_sample_size:,} planned" if result.planned_sample_size else ""),
        "",
    ]
    lines += [
        "## Arms",
        "",
        "| variant | units | observed share | intended share | exposure rows |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {a.variant} | {a.units:,} | {a.observed_share:.2%} | {a.expected_share:.2%} | "
        f"{a.exposure_rows:,} |"
        for a in result.arms
    ] + [""]
    lines += ["## Results", "", *_results_table(result.results, result), ""]
    if plot:
        lines += [f"![Relative lift, {axis_label(result)}]({plot})", ""]
        lines += _plot_caveat(result)
    if result.segments:
        lines += [
            "## Results by segment",
            "",
            "Segments are exploratory: p-values are corrected across all segment cells, "
            "and a difference between segments is not itself tested.",
            "",
        ]
        lines += [*_results_table(result.segments, result, by_segment=True), ""]
    lines += _readouts(result)
    if result.rank_tests:
        lines += [
            "## Rank tests (Mann-Whitney)",
            "",
            "P(T > C) is the chance a treatment unit's value exceeds a control unit's "
            "(ties count half); 0.5 means no shift. Not part of the corrected family.",
            "",
            "| metric | variant | n control | n treatment | P(T > C) | p |",
            "|---|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.metric} | {r.variant} | {r.n_control:,.0f} | {r.n_treatment:,.0f} | "
            f"{r.error or f'{r.auc:.4f}'} | {p(r.p_value)} |"
            for r in result.rank_tests
        ]
        lines.append("")
    if result.bootstrap:
        lines += [
            "## Poisson bootstrap",
            "",
            "Percentile intervals from replicate sums computed in the warehouse, with "
            "hash-derived Poisson(1) weights; a check on the normal approximation.",
            "",
            "| metric | variant | replicates | abs. lift [CI] | rel. lift [CI] |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {b.metric} | {b.variant} | {b.replicates} | "
            + (
                f"error: `{b.error}` | |"
                if b.error
                else f"{num(b.diff)} {interval(b.diff_ci)} | "
                f"{pct(b.rel_lift)} {interval(b.rel_lift_ci, as_pct=True)} |"
            )
            for b in result.bootstrap
        ]
        lines.append("")
    lines += ["## Health checks", "", "| | check | detail |", "|---|---|---|"]
    lines += [f"| {_ICON[c.status]} | {c.name} | {c.message}{_remedy(c)} |"
              for c in result.checks] + [""]
    lines += [
        "## Reproduce",
        "",
        f"- Spec hash: `{result.spec_hash}`",
        f"- Run at: {result.run_at} on {result.warehouse}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in result.versions.items()),
        "",
    ]
    for name, sql in sql_text.items():
        lines += [
            f"<details><summary>SQL: {name}</summary>",
            "",
            "```sql",
            sql,
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def _results_table(
    results: list[MetricResult], result: AnalysisResult, by_segment: bool = False
) -> list[str]:
    ci = ci_header(result)
    head = (
        f"| metric | role | variant | control | treatment | abs. lift [{ci}] | rel. lift [{ci}] "
        "| p | p adj. | | method |"
    )
    rule = "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|"
    if by_segment:
        head, rule = "| segment " + head, "|---" + rule
    out = [head, rule]
    marks = {"better": "🟢 better", "worse": "🔴 worse", "n.s.": "n.s.", "": ""}
    for r in results:
        f = figures(r)
        cells = [r.metric, r.role, r.variant, f.control, f.treatment]
        if f.error is not None:
            cells += [f"error: `{f.error}`", "", "", "", "", r.method]
        else:
            vr = (
                ""
                if r.cuped_variance_reduction is None
                else f", variance −{r.cuped_variance_reduction:.0%}"
            )
            cells += [
                f"{f.diff} {f.diff_ci}",
                f"{f.lift} {f.lift_ci}",
                f.p,
                f.p_adjusted,
                marks[f.verdict],
                r.method + vr,
            ]
        if by_segment:
            cells.insert(0, f"{r.segment}={r.segment_value}")
        out.append("| " + " | ".join(cells) + " |")
    note = interval_note(result)
    if note is not None:
        out += ["", f"*{note} Unadjusted intervals: `diff_ci`, `rel_lift_ci` in the JSON.*"]
    return out


def _plot_caveat(result: AnalysisResult) -> list[str]:
    """Name the results whose colour (the verdict) is not what the interval alone shows.

    Results under a sequential design are left out: their verdict is the design's.
    """
    plain = [r for r in result.results if r.error is None and r.sequential_method is None]
    odd = verdict_beyond_interval(plain)
    if not odd:
        return []
    names = ", ".join(f"{r.metric} · {r.variant}" for r in odd)
    holm = result.correction == "holm"
    why = "Holm rejects beyond the Bonferroni intervals shown. " if holm else ""
    return [
        f"Significant (adjusted p < {result.alpha}) although an adjusted interval includes 0: "
        f"{names}. {why}The relative-lift interval (delta method) and a proportion's Wald "
        "interval are not exact duals of the test.",
        "",
    ]


def write_report(result: AnalysisResult, out_dir: str | Path, *,
                 lifecycle: str | None = None) -> Path:
    """Write ``<out_dir>/<experiment>.md`` (and its lift chart) and return the Markdown path.

    ``lifecycle``: the experiment's status line (``assay analyze`` prints it above every
    output), written as a quote above the document.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot = _forest_plot(result, out / f"{result.experiment}_lift.png")
    path = out / f"{result.experiment}.md"
    text = render_markdown(result, plot.name if plot else None)
    if lifecycle:
        text = f"> {markdown_text(lifecycle)}\n\n{text}"
    path.write_text(text, encoding="utf-8")
    return path


def _forest_plot(result: AnalysisResult, path: Path) -> Path | None:
    """Write :func:`forest_figure` to ``path``; None without matplotlib or results."""
    fig = forest_figure(result)
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return path


def forest_figure(result: AnalysisResult) -> Figure | None:
    """Relative lift and interval per metric x variant; None without matplotlib or results.

    The intervals are the adjusted ones when a correction is active, so that they agree with
    the colour, which is the (adjusted) verdict; the axis label names them.
    """
    rows = [r for r in result.results if r.error is None]
    if not rows:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    import textwrap

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.6))
    for i, r in enumerate(reversed(rows)):
        colour = "tab:green" if is_win(r) else "tab:red" if is_loss(r) else "tab:gray"
        low, high = (100 * b for b in shown_intervals(r)[1])
        ax.plot([low, high], [i, i], color=colour, lw=2)
        ax.plot([100 * r.rel_lift], [i], "o", color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [_plot_label(r) for r in reversed(rows)])
    for tick, r in zip(ax.get_yticklabels(), reversed(rows), strict=True):
        if r.role == "primary":
            tick.set_fontweight("bold")
    label = f"relative lift vs {result.control} (%), {axis_label(result)}"
    ax.set_xlabel("\n".join(textwrap.wrap(label, 70)))
    ax.set_title(result.name or result.experiment)
    # the layout engine keeps long tick labels and the (wrapped) axis label inside the figure
    fig.set_layout_engine("constrained")
    return fig


def _plot_label(r: MetricResult) -> str:
    """A row's label in the forest plot; primary and guardrail metrics say so."""
    role = {"primary": " (primary)", "guardrail": " (guardrail)"}.get(r.role, "")
    return f"{r.metric}{role} · {r.variant}"


def _readouts(result: AnalysisResult) -> list[str]:
    """Sequential verdicts and Bayesian posteriors, when the experiment asks for them."""
    rows = [r for r in result.results if r.sequential_method or r.prob_beat_control is not None]
    if not rows:
        return []
    lines = [
        "## Sequential and Bayesian readout",
        "",
        "Under a sequential design, significance above is the design's verdict.",
        "",
        "| metric | variant | sequential | verdict | P(beat control) | credible interval "
        "| expected loss |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        if r.sequential_boundary is not None:
            crossed = "crossed" if r.sequential_crossed else "not crossed"
            verdict = f"boundary {r.sequential_boundary:.3f}, {crossed}"
        elif r.sequential_p_value_adjusted is not None:
            verdict = f"always-valid p adj. {p(r.sequential_p_value_adjusted)}"
        else:
            verdict = ""
        beat = "" if r.prob_beat_control is None else f"{r.prob_beat_control:.1%}"
        credible = interval(r.credible_interval, as_pct=True) if r.credible_interval else ""
        loss = "" if r.expected_loss is None else pct(r.expected_loss)
        lines.append(
            f"| {r.metric} | {r.variant} | {r.sequential_method or ''} | {verdict} | "
            f"{beat} | {credible} | {loss} |"
        )
    return [*lines, ""]


def _remedy(check: Check) -> str:
    """A failed or warning check's remedy, on its own line of the table cell."""
    return f"<br>*What to do:* {check.remedy}" if check.remedy and check.status != "pass" else ""
