"""YAML loading that remembers where every key and item came from.

Pydantic reports errors by location (``('metrics', 2, 'window')``); :class:`Located` maps such a
location back to the line of the YAML file, so each problem is reported as ``file:line: field``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assay.errors import SpecIssue

Loc = tuple[str | int, ...]


@dataclass
class Located:
    """Parsed YAML data plus the line of every mapping key and sequence item.

    Attributes:
        file: The path as it will be shown to the user.
        data: The parsed document (``None`` for an empty file).
        lines: Location -> 1-based line.
        issues: Problems found while reading (invalid YAML, duplicate keys).
    """

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    issues: list[SpecIssue] = field(default_factory=list)

    def line(self, loc: Sequence[str | int]) -> int | None:
        """Line of the longest known prefix of ``loc`` (the document's first line if none)."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def issue(
        self,
        loc: Sequence[str | int],
        message: str,
        *,
        value: object = None,
        hint: str | None = None,
        severity: str = "error",
    ) -> SpecIssue:
        """A :class:`SpecIssue` located at ``loc`` in this file."""
        return SpecIssue(
            file=self.file,
            line=self.line(loc),
            field=format_loc(loc),
            message=message,
            value=None if value is None else _show(value),
            hint=hint,
            severity=severity,
        )


def format_loc(loc: Sequence[str | int]) -> str:
    """``('metrics', 2, 'window')`` -> ``metrics[2].window``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def load_yaml(path: Path, shown_as: str | None = None) -> Located:
    """Read a YAML file; syntax errors become located issues instead of exceptions."""
    shown = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        return Located(shown, None, issues=[SpecIssue(shown, None, "", f"not UTF-8 text: {err}")])
    return parse_yaml(text, shown)


def parse_yaml(text: str, shown_as: str) -> Located:
    """Parse YAML text; see :func:`load_yaml`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(shown_as, None, {(): 1})
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = err.problem or err.context or "invalid YAML"
        return Located(
            shown_as, None, issues=[SpecIssue(shown_as, line, "", f"invalid YAML: {problem}")]
        )
    except yaml.YAMLError as err:
        return Located(
            shown_as, None, issues=[SpecIssue(shown_as, None, "", f"invalid YAML: {err}")]
        )
    finally:
        loader.dispose()
    located = Located(shown_as, data, {(): node.start_mark.line + 1})
    _walk(node, (), located)
    return located


def _walk(node: yaml.Node, loc: Loc, out: Located) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                out.issues.append(
                    SpecIssue(
                        out.file,
                        line,
                        format_loc((*loc, key)),
                        f"duplicate key (first set on line {seen[key]})",
                    )
                )
            seen[key] = line
            out.lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), out)


def _show(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 80 else text[:77] + "..."
