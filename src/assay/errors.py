"""One exception tree for assay.

Bugs and bad specs are exceptions; data problems (an empty arm, zero variance) are codes inside
results (see :mod:`assay.stats.codes`). Driver errors are wrapped, never leaked.
"""

from __future__ import annotations

from dataclasses import dataclass


class AssayError(Exception):
    """Base class of every error assay raises on purpose."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in a spec, located as precisely as the input allows.

    Attributes:
        file: Path of the file the problem is in (as given by the user).
        line: 1-based line number, or None when the problem has no single line.
        field: Dotted path of the field (``metrics[2].window``).
        message: What is wrong, in one sentence.
        value: The offending value, rendered for display, or None.
        hint: A suggestion ("did you mean `revenue`?"), or None.
        severity: ``"error"`` stops the run; ``"warning"`` is reported and the run goes on.
    """

    file: str
    line: int | None
    field: str
    message: str
    value: str | None = None
    hint: str | None = None
    severity: str = "error"

    def format(self) -> str:
        """Render as ``file:line: field: message (value) hint`` (credentials masked)."""
        from assay.secrets import redact

        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        if self.value is not None:
            text += f" (got {self.value})"
        if self.hint:
            text += f"; {self.hint}"
        return redact(text)


class SpecError(AssayError, ValueError):
    """A project, metric or experiment spec is invalid. Carries every issue found at once."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = list(issues)
        lines = "\n".join("  " + issue.format() for issue in self.issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        super().__init__(f"{len(self.issues)} {noun} in the spec:\n{lines}")


class WarehouseError(AssayError):
    """The warehouse refused or failed a query. Carries the SQL that was sent."""

    def __init__(self, message: str, sql: str | None = None, backend: str | None = None) -> None:
        self.sql = sql
        self.backend = backend
        prefix = f"[{backend}] " if backend else ""
        super().__init__(prefix + message)


class MissingTableError(WarehouseError):
    """A table a spec refers to does not exist in the warehouse."""


class DataError(AssayError):
    """The data cannot support an analysis at all (e.g. an experiment with no exposures)."""
