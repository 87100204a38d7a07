"""What the CLI prints for people (without --json): tables drawn by rich (installed with typer), and progress bars
on stderr for the long operations. --json output never goes through here: it stays machine-readable, unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _rows_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    return table


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def show(value: Any, console: Console | None = None) -> None:
    """A list of records as a table; a record as its `field: value` lines (easy to copy a password or an id from),
    followed by a table for each field that is itself a list of records (a roster import's candidates, result rows)."""
    console = console or Console(soft_wrap=True)
    if _is_rows(value):
        console.print(_rows_table(value))
    elif isinstance(value, Mapping):
        nested = []
        for key, item in value.items():
            if _is_rows(item):
                nested.append((key, item))
            else:
                console.print(f"{key}: {_cell(item)}", markup=False, highlight=False)
        for key, rows in nested:
            console.print(_rows_table(rows, title=str(key)))
    elif isinstance(value, list) and not value:
        console.print("（无 / none）")
    else:
        console.print(_cell(value), markup=False, highlight=False)


Steps = Callable[[str, int, int], None]  # (what, done, total): a service's report of how far it is


@contextmanager
def progress_bar(*, enabled: bool = True) -> Iterator[Steps]:
    """Bars on stderr, one per kind of step a long operation reports (`steps("检查名单 Checking rows", 120, 1000)`).
    Only for a person at a terminal: disabled (for --json), or with stderr going to a file or a pipe (a cron job's
    log, a script reading the one-line error), it is a no-op."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda what, done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    bars = Progress(*columns, console=console)
    tasks: dict[str, TaskID] = {}

    def steps(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = bars.add_task(what, total=total)
        bars.update(tasks[what], completed=done, total=total)

    with bars:
        yield steps
