"""Turn pydantic validation errors into located, readable :class:`SpecIssue` objects."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from assay.errors import SpecError, SpecIssue
from assay.spec.yamlsrc import Loc, Located

# Pydantic adds union-member tags ("str", "date", "function-after[...]") to error locations.
_TYPE_TAGS = {"str", "int", "float", "bool", "date", "datetime", "list", "dict", "tuple", "none"}


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """A "did you mean `x`?" hint when a close match exists."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else None


def unknown_name(where: str, what: str, name: str, known: Sequence[str]) -> SpecError:
    """``no <what> `name```, with a did-you-mean hint or the list of known names."""
    names = sorted(known)
    hint = did_you_mean(name, names) or (
        f"known: {', '.join(names)}" if names else f"the project has no {what}s"
    )
    return SpecError([SpecIssue(where, None, "", f"no {what} `{name}`", hint=hint)])


def issues_from_validation(
    err: ValidationError, src: Located, model: type[BaseModel], prefix: Loc = ()
) -> list[SpecIssue]:
    """Located issues for every error in ``err`` (validated data sat at ``prefix`` in ``src``)."""
    raw = err.errors(include_url=False)
    cleaned = [(_clean_loc(e["loc"], src, prefix), e) for e in raw]
    # A union reports one error per member; keep the member that matches the input's shape.
    by_loc: dict[Loc, int] = {}
    for loc, e in cleaned:
        if not str(e["type"]).endswith("_type"):
            for i in range(len(loc) + 1):
                by_loc[loc[:i]] = by_loc.get(loc[:i], 0) + 1
    issues: list[SpecIssue] = []
    for loc, e in cleaned:
        if str(e["type"]).endswith("_type") and any(
            by_loc.get(loc[:i], 0) for i in range(len(prefix) + 1, len(loc) + 1)
        ):
            continue
        issues.append(_issue(loc, e, src, model, prefix))
    return _dedupe(issues)


def _issue(loc: Loc, e: Any, src: Located, model: type[BaseModel], prefix: Loc) -> SpecIssue:
    kind = str(e["type"])
    msg = str(e["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value: object = e.get("input")
    hint = None
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[len(prefix) : -1])
        msg = f"unknown field `{loc[-1]}`"
        hint = did_you_mean(str(loc[-1]), allowed) or (
            f"allowed: {', '.join(sorted(allowed))}" if allowed else None
        )
        value = None
    elif kind == "missing":
        msg = "required field is missing"
        value = None
    elif kind == "literal_error":
        hint = did_you_mean(str(value), _literal_choices(str(e["msg"])))
    if isinstance(value, dict | list) or kind.startswith("model_"):
        value = None
    return src.issue(loc, msg, value=value, hint=hint)


def _clean_loc(loc: Sequence[int | str], src: Located, prefix: Loc) -> Loc:
    out: list[int | str] = list(prefix)
    for part in loc:
        if isinstance(part, int):
            out.append(part)
            continue
        if (*out, part) in src.lines:
            out.append(part)
        elif part in _TYPE_TAGS or "[" in part or "(" in part or part[:1].isupper():
            continue
        else:
            out.append(part)
    return tuple(out)


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(str(part))
        if info is None:
            return []
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None:
        return None
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        return _model_in(args[1])
    if origin in (list, tuple, typing.Union, types.UnionType, typing.Annotated):
        for arg in args:
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _literal_choices(msg: str) -> list[str]:
    return [
        part.strip(" '\"")
        for part in msg.replace(" or ", ",").split("Input should be")[-1].split(",")
        if part.strip(" '\"")
    ]


def _dedupe(issues: list[SpecIssue]) -> list[SpecIssue]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for issue in issues:
        key = (issue.line, issue.field, issue.message)
        if key not in seen:
            seen.add(key)
            out.append(issue)
    return out
