"""The one exception type for bad user input: its message is a single line for the CLI."""


class EcgbeatError(ValueError):
    """Bad input or a missing resource, with a one-line message naming the file and the problem."""


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__
