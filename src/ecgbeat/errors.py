"""The one exception type for bad user input: its message is a single line for the CLI."""


class EcgbeatError(ValueError):
    """Bad input or a missing resource, with a one-line message naming the file and the problem."""
