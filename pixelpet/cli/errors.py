"""What a command's failure is: one readable line and an exit code. No rich here: `pixelpet serve` and
`pixelpet healthcheck` (every few seconds in a container) load only this.

Exit codes mean the same in every command (the README's Operations section lists them):
0 all is well; 1 a check, step or comparison failed (the command worked and the answer is "no");
2 the command was used wrongly or the configuration is invalid; 3 something it needs (the database,
the service, Prometheus) cannot be reached.
"""

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
