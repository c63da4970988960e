"""The error every bad input raises, in a module of its own: the command line catches it without importing the
scenario schema (pydantic), so that ``ceasefire --help`` answers at once."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input: one line per problem, each naming the file and the key path."""

    def __init__(self, problems: list[str], more: int = 0):
        self.problems = list(problems)
        self.more = more
        """Problems found but not formatted (a file with thousands of errors)."""
        super().__init__("\n".join(self.problems))
