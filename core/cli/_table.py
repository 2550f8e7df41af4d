"""Tables for people: whole words at any width, one line per row where a column may be cut.

Every CLI table goes through :func:`print_table`. A column is never narrower than its longest word,
so no word is split across lines. When the terminal is too narrow for that, optional columns
(``wide_only``) are left out; when it is still too narrow, each row is printed as a block of
``header: value`` lines instead (the way ``psql``'s expanded display does). ``--wide`` shows every
column at its natural width, however wide that is.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["Column", "console_width", "json_option", "local_time", "local_zone", "print_table", "wide_option"]

_GAP = 2
"""Characters between two columns: a space of padding and the (blank) rule."""

_TRUNCATED_MIN = 12
"""The narrowest a cut (``truncate``) column gets: enough to recognise what was cut."""


@dataclass(frozen=True)
class Column:
    """One column of a CLI table.

    Attributes:
        header: the column's title.
        wide_only: left out when the terminal is too narrow for it (shown with ``--wide``).
        truncate: kept to one line, cut with an ellipsis when the row is too long (details, errors).
        nowrap: never wrapped (times, ids): as wide as its longest cell.
        justify: alignment of the cells.
        style: a rich style for the cells (``"bold"``...).
    """

    header: str
    wide_only: bool = False
    truncate: bool = False
    nowrap: bool = False
    justify: Literal["left", "right", "center"] = "left"
    style: str | None = None


def console_width() -> int:
    """The terminal's width: ``COLUMNS`` when set, the terminal's own when there is one, else 80."""
    return shutil.get_terminal_size((80, 24)).columns


wide_option = click.option(
    "--wide", is_flag=True, help="Show every column at full width (no wrapping, nothing cut)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def local_zone() -> str:
    """This machine's time zone, as the tables name it (``CET``, ``UTC``)."""
    from datetime import datetime

    return datetime.now().astimezone().strftime("%Z")


def local_time(value: object, *, short: bool = False) -> str:
    """An ISO timestamp as this machine's local time to the second, with its zone (``2026-12-03 15:04:05 CET``).

    A naive timestamp is taken as UTC (the stores keep UTC); anything unparseable is shown as it is.
    ``short`` leaves out the year and the zone (``12-03 15:04:05``), for a table whose title names the zone.
    """
    from datetime import UTC, datetime

    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%m-%d %H:%M:%S" if short else "%Y-%m-%d %H:%M:%S %Z")


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def _natural(col: Column, cells: Sequence[str]) -> int:
    return max([len(col.header), *(max(map(len, cell.splitlines()), default=0) for cell in cells)])


def _clip(text: str, width: int) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= width and "\n" not in text else line[: width - 1] + "…"


def _build(
    title: str | None,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    keep: Sequence[int],
    wide: bool,
    width: int,
    styles: Sequence[str | None] | None = None,
) -> Table:
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        expand=False,
        padding=(0, 1, 0, 0),
    )
    cut = [i for i in keep if columns[i].truncate and not wide]
    if cut:
        # what the other columns leave at their natural width, shared by the cut ones (each at least a minimum)
        others = sum(_natural(columns[i], [row[i] for row in rows]) for i in keep if i not in cut)
        room = max(_TRUNCATED_MIN, (width - others - _GAP * (len(keep) - 1)) // len(cut))
    texts: list[list[str]] = [[row[i] for i in keep] for row in rows]
    widths = (
        {}
        if wide
        else _wrapped_widths(columns, rows, [i for i in keep if i not in cut], width, cut, room if cut else 0)
    )
    for n, i in enumerate(keep):
        col = columns[i]
        cells = [row[i] for row in rows]
        if i in cut:
            limit = min(room, _natural(col, cells))
            for line in texts:
                line[n] = _clip(line[n], limit)
            table.add_column(col.header, no_wrap=True, width=limit, justify=col.justify, style=col.style)
        else:
            longest = max([_longest_word(col.header), *map(len if col.nowrap else _longest_word, cells)])
            table.add_column(
                col.header,
                min_width=longest,
                width=widths.get(i),
                overflow="fold",
                no_wrap=wide or col.nowrap,
                justify=col.justify,
                style=col.style,
            )
    for n, line in enumerate(texts):
        table.add_row(*(Text(cell) for cell in line), style=styles[n] if styles else None)
    return table


def _wrapped_widths(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    wrapping: Sequence[int],
    width: int,
    cut: Sequence[int],
    room: int,
) -> dict[int, int]:
    """Widths for the columns that may wrap, when they do not all fit whole: the widest gives way first.

    Rich would narrow every wide column alike; a long list (capabilities) beside short ones (auth) then
    wraps them all. Here the widest column is narrowed as far as it can (to its longest word) before the
    next one is touched, so the short columns stay on one line.
    """
    natural = {i: _natural(columns[i], [row[i] for row in rows]) for i in wrapping}
    floor = {
        i: max(
            [
                _longest_word(columns[i].header),
                *((len if columns[i].nowrap else _longest_word)(row[i]) for row in rows),
            ]
        )
        for i in wrapping
    }
    cut_width = sum(min(room, _natural(columns[i], [row[i] for row in rows])) for i in cut)
    excess = sum(natural.values()) + cut_width + _GAP * max(len(wrapping) + len(cut) - 1, 0) - width
    if excess <= 0:
        return {}
    widths = dict(natural)
    for i in sorted(wrapping, key=lambda i: natural[i] - floor[i], reverse=True):
        give = min(excess, widths[i] - floor[i])
        widths[i] -= give
        excess -= give
        if excess <= 0:
            break
    return widths


_TALLEST = 8
"""More lines than this for one cell, and the rows read better as blocks (a long list in a narrow column)."""


def _too_tall(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], keep: Sequence[int], width: int
) -> bool:
    cut = [i for i in keep if columns[i].truncate]
    wrapping = [i for i in keep if i not in cut]
    room = _TRUNCATED_MIN
    if cut:
        others = sum(_natural(columns[i], [row[i] for row in rows]) for i in wrapping)
        room = max(_TRUNCATED_MIN, (width - others - _GAP * (len(keep) - 1)) // len(cut))
    widths = _wrapped_widths(columns, rows, wrapping, width, cut, room)
    for i, w in widths.items():
        for row in rows:
            if len(textwrap.wrap(row[i], w, break_long_words=False, break_on_hyphens=False)) > _TALLEST:
                return True
    return False


def _minimum_width(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], keep: Sequence[int], *, cut: bool = True
) -> int:
    """The narrowest the table can be without splitting a word (cut columns at their narrowest, or whole)."""
    width = 0
    for i in keep:
        col = columns[i]
        cells = [row[i] for row in rows]
        if col.truncate:
            width += min(_TRUNCATED_MIN, _natural(col, cells)) if cut else _natural(col, cells)
        else:
            width += max([_longest_word(col.header), *map(len if col.nowrap else _longest_word, cells)])
    return width + _GAP * max(len(keep) - 1, 0)


def _stacked(title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> str:
    """Each row as a block: its first cell as a heading, then one ``header: value`` line per other cell."""
    label = max(len(c.header) for c in columns[1:]) + 4 if len(columns) > 1 else 0
    lines: list[str] = [title, ""] if title else []
    for row in rows:
        lines.append(row[0])
        for col, value in zip(columns[1:], row[1:], strict=True):
            if not value:
                continue
            room = max(width - label, 20)
            if col.truncate:
                body = [value if len(value) <= room else value[: room - 1] + "…"]
            else:
                # words longer than the line stay whole (a URL): the terminal wraps them, never we
                body = textwrap.wrap(value, width=room, break_long_words=False, break_on_hyphens=False)
            for n, part in enumerate(body or [""]):
                lines.append(("  " + col.header + ":").ljust(label) + part if n == 0 else " " * label + part)
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def print_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    wide: bool = False,
    width: int | None = None,
    empty: str | None = None,
    styles: Sequence[str | None] | None = None,
    console: Console | None = None,
) -> None:
    """Print a table that reads at ``width`` columns (default: the terminal's) without splitting a word.

    Args:
        columns: the columns, in order.
        rows: one sequence of cell texts per row, as long as ``columns``.
        title: printed above the table.
        wide: every column at its natural width (``--wide``).
        width: the width to fit; default :func:`console_width`.
        empty: printed instead of the table when there are no rows.
        styles: a rich style per row (``"red"`` for a failed one), or None.
        console: where to print (its width is the width to fit); default standard output.
    """
    echo = click.echo if console is None else console.out
    if not rows and empty is not None:
        echo(empty)
        return
    width = width or (console.width if console is not None else console_width())
    everything = list(range(len(columns)))
    if wide:
        table = _build(title, columns, rows, everything, wide=True, width=100_000, styles=styles)
        (console or Console(width=100_000, soft_wrap=True, highlight=False)).print(table, crop=False)
        return
    keep = everything
    # optional columns only where they leave the cut ones whole: a reason matters more than a timestamp
    if _minimum_width(columns, rows, keep, cut=not any(c.wide_only for c in columns)) > width:
        keep = [i for i in everything if not columns[i].wide_only]
    if _minimum_width(columns, rows, keep) > width or _too_tall(columns, rows, keep, width):
        echo(_stacked(title, [columns[i] for i in keep], [[row[i] for i in keep] for row in rows], width))
        return
    table = _build(title, columns, rows, keep, wide=False, width=width, styles=styles)
    (console or Console(width=width, highlight=False)).print(table)
