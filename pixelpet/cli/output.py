"""How every command speaks: rich tables for people, ``--json`` for scripts, one-line errors, exit codes.

Exit codes mean the same in every command (the README's Operations section lists them):
0 all is well; 1 a check, step or comparison failed (the command worked and the answer is "no");
2 the command was used wrongly or the configuration is invalid; 3 something it needs (the database,
the service, Prometheus) cannot be reached.
"""

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

OK = 0
FAILED = 1
USAGE = 2
UNREACHABLE = 3


class CommandError(Exception):
    """A failure to report as one readable line and an exit code, never a stack trace."""

    def __init__(self, message: str, *, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def unreachable(what: str, error: BaseException | str) -> CommandError:
    detail = error if isinstance(error, str) else first_line(error)
    return CommandError(f"{what} is unreachable: {detail}", exit_code=UNREACHABLE)


def first_line(error: BaseException) -> str:
    """What an error says, in one line an operator reads (PyMongo's topology dump left out)."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.split(" (configured timeouts")[0].split(", Timeout:")[0][:200]


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
