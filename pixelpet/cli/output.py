"""How every command speaks: rich tables for people, ``--json`` for scripts, errors on stderr in one line
(what they are, and the exit codes: errors.py)."""

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pixelpet.cli.errors import CommandError


class Output:
    """Where a command writes. Tables and colour on a terminal (rich decides), plain JSON with ``--json``."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console()
        self.errors = Console(stderr=True)

    def json(self, value: Any) -> None:
        sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")

    def table(self, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(value) for value in row))
        self.console.print(table)

    def line(self, text: str) -> None:
        """A sentence of ours; ``text`` may use rich markup, so put data in it through ``escape``."""
        self.console.print(text, soft_wrap=True)

    def report(self, error: CommandError) -> None:
        """The error as one line on stderr (a script reading --json stdout sees nothing half-written)."""
        # Soft wrap: one line however long, so logs and scripts see it whole.
        self.errors.print(f"[bold red]pixelpet:[/] {escape(error.message)}", highlight=False, soft_wrap=True)


class Styled(str):
    """Text with rich markup of ours (colour); any other text is shown exactly as it is."""

    __slots__ = ()


def _cell(value: Any) -> str:
    if isinstance(value, Styled):
        return value
    if isinstance(value, str):
        return escape(value)  # data (an error, an owner id) may hold brackets rich would read as markup
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def status(ok: bool) -> str:
    """A check's verdict as a table cell: green ok, red fail."""
    return Styled("[green]ok[/]" if ok else "[bold red]fail[/]")
