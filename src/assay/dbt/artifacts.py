"""dbt's ``manifest.json``, read as data (DESIGN 12: artifacts, never dbt's Python internals).

The manifest says what dbt built and from which file: each node's relation (database, schema,
alias), its checksum, what it depends on, and the semantic models and metrics of the project.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp

from assay.errors import SpecError, SpecIssue
from assay.spec.errors import did_you_mean

#: Node kinds a ``ref`` can name (dbt's own list of refable resources that hold data).
_REFABLE = ("model", "seed", "snapshot")
#: Keys of a manifest entry that change on every parse without the definition changing.
_VOLATILE = ("created_at", "unrendered_config", "config_call_dict", "deferred")


@dataclass(frozen=True)
class Manifest:
    """A parsed ``manifest.json``.

    Attributes:
        path: The manifest file.
        project_dir: The dbt project it describes (file paths in it are relative to this).
        data: The JSON document.
    """

    path: Path
    project_dir: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, path: Path, project_dir: Path, shown: str) -> Manifest:
        """Read ``path``; a missing or unreadable manifest is a located :class:`SpecError`."""
        if not path.is_file():
            raise SpecError([SpecIssue(
                shown, None, "", "no dbt manifest here",
                hint=f"run `dbt parse` in {project_dir} (or set `dbt.parse: true` in "
                     "assay_project.yml so that assay runs it)",
            )])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise SpecError([SpecIssue(shown, None, "", f"not a readable dbt manifest: {err}",
                                       hint="rerun `dbt parse`")]) from None
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
            raise SpecError([SpecIssue(shown, None, "", "not a dbt manifest (no `nodes`)")])
        return cls(path, project_dir, data)

    @property
    def dbt_version(self) -> str:
        """The dbt version that wrote the manifest."""
        return str(self.data.get("metadata", {}).get("dbt_version", "?"))

    def entries(self, *sections: str) -> Iterator[dict[str, Any]]:
        """Entries of the named top-level sections (``nodes``, ``sources``, ``metrics`` ...)."""
        for section in sections:
            yield from (self.data.get(section) or {}).values()

    def entry(self, unique_id: str) -> dict[str, Any] | None:
        """The entry with this unique id, whatever its section."""
        for section in ("nodes", "sources", "semantic_models", "metrics"):
            found = (self.data.get(section) or {}).get(unique_id)
            if found is not None:
                return dict(found)
        return None

    def resolve(self, call: tuple[str, str, str | None]) -> dict[str, Any] | str:
        """The node a ``ref``/``source`` call names, or why there is none (with a hint)."""
        fn, first, second = call
        if fn == "ref":
            package, name = (None, first) if second is None else (first, second)
            nodes = [n for n in self.entries("nodes") if n.get("resource_type") in _REFABLE]
            for node in nodes:
                if node.get("name") == name and package in (None, node.get("package_name")):
                    return node
            known = sorted({str(n.get("name")) for n in nodes})
            return _missing(f"no dbt model `{name}`", name, known)
        if second is None:
            return "source() needs a source name and a table name: source('shop', 'orders')"
        sources = list(self.entries("sources"))
        for node in sources:
            if node.get("source_name") == first and node.get("name") == second:
                return node
        known = sorted(f"{n.get('source_name')}.{n.get('name')}" for n in sources)
        return _missing(f"no dbt source `{first}.{second}`", f"{first}.{second}", known)

    def upstream(self, unique_ids: Iterable[str]) -> list[str]:
        """``unique_ids`` and everything they depend on, transitively, sorted."""
        seen: set[str] = set()
        todo = list(unique_ids)
        while todo:
            uid = todo.pop()
            if uid in seen:
                continue
            seen.add(uid)
            entry = self.entry(uid) or {}
            todo += (entry.get("depends_on") or {}).get("nodes") or []
        return sorted(seen)

    def stale_files(self) -> list[str]:
        """Project files changed since dbt wrote this manifest (relative paths).

        A SQL node is stale when its file's text no longer has the checksum dbt recorded (dbt's
        checksum is the SHA-256 of the stripped text); a YAML file when it is newer than the
        manifest.
        """
        stale: set[str] = set()
        built = self.path.stat().st_mtime
        for node in self.entries("nodes"):
            if node.get("resource_type") not in ("model", "snapshot"):
                continue
            file = self.project_dir / str(node.get("original_file_path"))
            recorded = (node.get("checksum") or {}).get("checksum")
            if not file.is_file() or recorded != _text_checksum(file):
                stale.add(str(node.get("original_file_path")))
        for entry in self.entries("sources", "semantic_models", "metrics"):
            file = self.project_dir / str(entry.get("original_file_path"))
            if file.is_file() and file.stat().st_mtime > built:
                stale.add(str(entry.get("original_file_path")))
        return sorted(stale)


def relation(node: dict[str, Any], dialect: str) -> str:
    """The relation dbt built for ``node``, every part quoted, in ``dialect``."""
    name = node.get("alias") or node.get("identifier") or node.get("name")
    table = exp.table_(
        exp.to_identifier(str(name), quoted=True),
        db=exp.to_identifier(str(node["schema"]), quoted=True) if node.get("schema") else None,
        catalog=(exp.to_identifier(str(node["database"]), quoted=True)
                 if node.get("database") else None),
    )
    return table.sql(dialect=dialect)


def checksum(entry: dict[str, Any]) -> str:
    """dbt's checksum of a node's file, or (for sources, semantic models and metrics, which
    have none) the SHA-256 of the entry's definition in the manifest."""
    recorded = (entry.get("checksum") or {}).get("checksum")
    if recorded:
        return str(recorded)
    stable = {k: v for k, v in entry.items() if k not in _VOLATILE}
    text = json.dumps(stable, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text_checksum(file: Path) -> str:
    text = file.read_text(encoding="utf-8", errors="replace").strip()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _missing(message: str, name: str, known: list[str]) -> str:
    hint = did_you_mean(name, known) or (f"known: {', '.join(known[:12])}" if known else None)
    return f"{message}; {hint}" if hint else message
