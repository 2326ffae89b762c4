"""Tables that fit the terminal: columns are dropped by priority, never truncated.

Each column declares a priority; the table keeps the most important columns that fit the
width it is given, in their declared order, and names the rest in its caption. A number is
never cut (``reve…``, ``<0.0…``): a column either fits whole or is left out. ``wide`` keeps
every column whatever the width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

Justify = Literal["left", "right"]

# What a column costs besides its cells: a space of padding on each side and the separator.
_PADDING = 3
# A foldable column wider than this wraps its text rather than pushing numbers out.
_FOLD_AT = 24


@dataclass
class Column:
    """One column: its header, cells (rich Text or plain strings) and how much it matters.

    Attributes:
        header: The column label (may wrap at spaces).
        priority: 0 is always kept; higher numbers are dropped first when space runs out.
        justify: Cell alignment.
        foldable: Text that may wrap within the cell (names, sentences), never numbers.
        group: Columns of one group are shown together or not at all (control and
            treatment means).
    """

    header: str
    priority: int
    justify: Justify = "right"
    foldable: bool = False
    group: str | None = None
    cells: list[Text] = field(default_factory=list)

    def add(self, cell: Text | str) -> None:
        """Append one row's cell."""
        self.cells.append(cell if isinstance(cell, Text) else Text(cell))

    def width(self) -> int:
        """The width this column needs: its longest cell (a foldable one: at most 24 wide)."""
        header = max((cell_len(w) for w in self.header.split()), default=0)
        longest = max((cell_len(c.plain) for c in self.cells), default=0)
        return max(header, min(longest, _FOLD_AT) if self.foldable else longest)


def fit(
    columns: Sequence[Column], width: int, wide: bool = False
) -> tuple[list[Column], list[str]]:
    """The columns to show within ``width`` (in their order) and the headers left out.

    Columns are admitted by priority (ties in their order), a group as a whole; one that does
    not fit is left out and smaller, less important ones may still come in.
    """
    if wide:
        return list(columns), []
    budget = width
    keep: set[int] = set()
    for index in sorted(range(len(columns)), key=lambda i: (columns[i].priority, i)):
        if index in keep:
            continue
        group = columns[index].group
        members = [i for i, c in enumerate(columns) if group is not None and c.group == group]
        members = members or [index]
        cost = sum(columns[i].width() + _PADDING for i in members)
        if columns[index].priority == 0 or cost <= budget:
            keep.update(members)
            budget -= cost
    shown = [c for i, c in enumerate(columns) if i in keep]
    hidden = [c.header for i, c in enumerate(columns) if i not in keep and c.header]
    return shown, hidden


def build(title: str, columns: Sequence[Column], width: int, wide: bool = False) -> Table:
    """A rich table of the columns that fit ``width``; the caption names any left out."""
    shown, hidden = fit(columns, width, wide)
    table = Table(
        title=Text(title),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=False,
        caption_justify="left",
    )
    for column in shown:
        table.add_column(
            Text(column.header),
            justify=column.justify,
            no_wrap=not column.foldable,
            overflow="fold",
            min_width=column.width(),
        )
    rows = max((len(c.cells) for c in shown), default=0)
    for i in range(rows):
        table.add_row(*(c.cells[i] if i < len(c.cells) else Text("") for c in shown))
    if hidden:
        table.caption = Text(f"not shown at this width: {', '.join(hidden)} (--wide shows all)")
    return table


def natural_width(table: Table) -> int:
    """The width a table from :func:`build` needs with every column whole (``--wide``)."""
    return sum((c.min_width or 0) + _PADDING for c in table.columns)
