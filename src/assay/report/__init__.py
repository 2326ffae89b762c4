"""Rendering of stored or fresh results: terminal tables, JSON, Markdown decision reports."""

from __future__ import annotations

from assay.report.markdown import render_markdown, write_report
from assay.report.terminal import render_terminal
from assay.results import Decision, decide

__all__ = ["Decision", "decide", "render_markdown", "render_terminal", "write_report"]
