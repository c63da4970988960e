"""Limits on input files: what a scenario, experiment or calibration file may be, before it is parsed.

Input files are small, hand-written TOML. Anything else is refused with one line naming the file
(and, for a file another file refers to, the referring file and key):

* only regular files are read (a FIFO would block for ever, ``/dev/zero`` never ends, a directory
  cannot be read), and at most :data:`MAX_FILE_BYTES` of them;
* a UTF-8 byte order mark at the start is dropped (editors on Windows write one);
* arrays and inline tables nest at most :data:`MAX_NESTING` deep, checked on the text before the
  TOML parser (which recurses) sees it, and tables (dotted keys, headers) at most as deep after it;
* names that become directory names are plain slugs (:func:`slug_problem`);
* at most :data:`MAX_PROBLEMS_SHOWN` problems are printed, then a count of the rest.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1 << 20          # the largest bundled file is 13 KB
MAX_DATA_BYTES = 32 << 20         # CSV data read back: a posterior's draws, a calibration's particles
MAX_NESTING = 32                  # arrays, inline tables and tables inside one another
MAX_BASE_DEPTH = 32               # files in one `base` inheritance chain
MAX_BASE_FILES = 256              # files read to resolve one scenario's inheritance, in all
MAX_NAME_LENGTH = 100             # a name becomes a directory name
MAX_PROBLEMS_SHOWN = 20           # a screenful
MAX_PROBLEMS_FORMATTED = 200      # problems turned into text; the rest are only counted

SLUG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # as the schemas' name patterns


class FileRefused(Exception):
    """Why a file cannot be read, without the file's name (the caller says who refers to it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _special_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """The text of a small regular UTF-8 file (at most ``limit`` bytes), BOM removed;
    :class:`FileRefused` otherwise.

    The file is opened non-blocking (a FIFO does not wait for a writer), checked with ``fstat`` on
    the open descriptor (no race with a swapped path), and read to at most one byte past the limit.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileRefused("no such file") from None
    except NotADirectoryError:
        raise FileRefused("no such file (a part of the path is a file, not a directory)") from None
    except PermissionError:
        raise FileRefused("cannot be read (permission denied)") from None
    except OSError as exc:
        raise FileRefused(f"cannot be opened ({exc.strerror or exc.__class__.__name__})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"cannot be read: it is {_special_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise FileRefused(f"cannot be read: it is {info.st_size:,} bytes, and such files are at most "
                               f"{limit:,} bytes")
        chunks, size = [], 0
        while size <= limit:
            try:
                chunk = os.read(fd, limit + 1 - size)
            except BlockingIOError:
                break
            except OSError as exc:
                raise FileRefused(f"cannot be read ({exc.strerror or exc.__class__.__name__})") from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileRefused(f"cannot be read: it is more than {limit:,} bytes, the most an input file "
                               f"may hold")
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRefused(f"cannot be read: it is not UTF-8 text (invalid byte at line {line})") from None


# --- nesting --------------------------------------------------------------------------------------

_TOKENS = re.compile(r'"""|\'\'\'|["\'#\[\]{}\n]')


def nesting_problem(text: str) -> str | None:
    """Where arrays or inline tables nest deeper than :data:`MAX_NESTING`, scanned without parsing.

    Strings and comments are skipped (a bracket inside them does not count); table headers open and
    close on their line, so they count one or two levels while they last.
    """
    depth, line, i = 0, 1, 0
    n = len(text)
    while True:
        m = _TOKENS.search(text, i)
        if m is None:
            return None
        tok, i = m.group(), m.end()
        if tok == "\n":
            line += 1
        elif tok in ("[", "{"):
            depth += 1
            if depth > MAX_NESTING:
                return (f"line {line}: arrays or tables nested more than {MAX_NESTING} deep; input files "
                        f"nest at most {MAX_NESTING} levels")
        elif tok in ("]", "}"):
            depth = max(0, depth - 1)
        elif tok == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif tok in ('"""', "'''"):
            end = text.find(tok, i) if tok == "'''" else _basic_end(text, i, tok)
            if end < 0:
                return None  # unterminated: the parser says where
            line += text.count("\n", i, end)
            i = end + 3
            while i < n and text[i] == tok[0]:  # up to two quotes may end the string's content
                i += 1
        else:  # one-line string
            end = text.find("'", i) if tok == "'" else _basic_end(text, i, '"')
            if end < 0:
                return None
            line += text.count("\n", i, end)
            i = end + 1


def _basic_end(text: str, i: int, quote: str) -> int:
    """Index of the closing quote of a basic string starting at ``i`` (escapes skipped), or -1."""
    while True:
        end = text.find(quote, i)
        if end < 0:
            return -1
        backslashes = 0
        j = end - 1
        while j >= i and text[j] == "\\":
            backslashes += 1
            j -= 1
        if backslashes % 2 == 0:
            return end
        i = end + 1


def depth_problem(data: Any) -> str | None:
    """The key path where parsed data nests deeper than :data:`MAX_NESTING` (dotted keys, headers)."""
    stack: list[tuple[Any, tuple, int]] = [(data, (), 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_NESTING:
            shown = ".".join(str(p) for p in path[:4])
            return f"{shown}...: nested more than {MAX_NESTING} levels deep; input files nest at most {MAX_NESTING}"
        if isinstance(node, dict):
            stack.extend((v, (*path, k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, f"[{j}]"), depth + 1) for j, v in enumerate(node))
    return None


# --- names ----------------------------------------------------------------------------------------

def slug_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a directory name (None when it can): letters, digits, '_', '-', '.',
    starting with neither '.' nor '-', at most :data:`MAX_NAME_LENGTH` characters."""
    if not isinstance(name, str):
        return None  # the schema reports the type
    if name in ("", ".", "..") or not SLUG.match(name) or len(name) > MAX_NAME_LENGTH:
        return (f"{name[:60]!r}{'...' if len(name) > 60 else ''}: not a safe name; it becomes a directory "
                f"name, so use letters, digits, '_', '-' and '.' ('-' and '.' not first), at most "
                f"{MAX_NAME_LENGTH} characters")
    return None


def shown_problems(problems: list[str], more: int = 0) -> list[str]:
    """At most a screenful of problems, then how many more there are."""
    hidden = max(0, len(problems) - MAX_PROBLEMS_SHOWN) + more
    lines = list(problems[:MAX_PROBLEMS_SHOWN])
    if hidden:
        lines.append(f"... and {hidden:,} more problem{'s' if hidden != 1 else ''}")
    return lines
