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
MAX_NODES = 100_000
"""Most nodes a document may expand to once its aliases are followed (a spec has hundreds): a
"billion laughs" of nested aliases is refused before it is built, not after 6 GB."""


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
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        return Located(shown, None, issues=[SpecIssue(
            shown, line, "", f"not UTF-8 text: byte {raw[err.start]:#04x} cannot be decoded "
            "(save the file as UTF-8)")])
    except OSError as err:
        return Located(shown, None, issues=[SpecIssue(
            shown, None, "", f"cannot be read: {err.strerror or err}")])
    return parse_yaml(text, shown)


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader whose invalid dates are located errors, not a ``ValueError`` from deep
    inside (``2026-02-30``, ``0000-01-01``)."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> object:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as err:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid date or time ({err})",
                node.start_mark) from err


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def parse_yaml(text: str, shown_as: str) -> Located:
    """Parse YAML text; see :func:`load_yaml`."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as err:  # the reader refuses NUL and other control characters
        return Located(shown_as, None, issues=[_reader_issue(err, text, shown_as)])
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(shown_as, None, {(): 1})
        problem = _alias_problem(node)
        if problem is not None:
            return Located(shown_as, None, issues=[SpecIssue(shown_as, problem[0], "",
                                                             problem[1])])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem_text = err.problem or err.context or "invalid YAML"
        return Located(
            shown_as, None,
            issues=[SpecIssue(shown_as, line, "", f"invalid YAML: {problem_text}")]
        )
    except yaml.YAMLError as err:
        return Located(shown_as, None, issues=[_reader_issue(err, text, shown_as)])
    finally:
        loader.dispose()
    located = Located(shown_as, data, {(): node.start_mark.line + 1})
    _walk(node, (), located)
    return located


def _reader_issue(err: yaml.YAMLError, text: str, shown_as: str) -> SpecIssue:
    position = getattr(err, "position", None)
    line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
    message = str(err).splitlines()[0] if str(err) else "invalid YAML"
    if isinstance(err, yaml.reader.ReaderError):
        char = err.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        message = f"character {shown} is not allowed in YAML (control characters " \
            "and NUL must be escaped in a double-quoted string, e.g. \"\\t\")"
    return SpecIssue(shown_as, line, "", f"invalid YAML: {message}")


def _alias_problem(root: yaml.Node) -> tuple[int, str] | None:
    """``(line, message)`` if aliases make the document recursive or expand it past
    :data:`MAX_NODES`; found by walking the composed graph (nothing is built)."""
    budget = MAX_NODES
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        if id(node) in on_path:
            return node.start_mark.line + 1, "an alias refers to a node that contains it " \
                "(a recursive alias): write the value out"
        budget -= 1
        if budget < 0:
            return node.start_mark.line + 1, f"the document's aliases expand to more than " \
                f"{MAX_NODES:,} values; write the values out instead of nesting aliases"
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if children:
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children))
    return None


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
