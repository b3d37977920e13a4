"""Faults that stop a command or the chat server: what went wrong, in one line, and the
exit status it ends with (README, "Server limits and faults").

Front ends catch `Fault`, print `error: <message>` on stderr and exit with its status;
nothing here imports more than the standard library, so catching it costs nothing.
"""

from __future__ import annotations

EXIT_BAD_INPUT = 2  # a question, batch file or argument that cannot be used
EXIT_MODEL_UNAVAILABLE = 3  # the embedding model cannot be loaded (what to install)
EXIT_PLAN_UNREADABLE = 4  # the plan file is missing, empty, not UTF-8 or not the plan
EXIT_CANNOT_WRITE = 5  # the index folder (or the feedback database) cannot be written
EXIT_CANNOT_LISTEN = 6  # the server cannot listen on its address and port


class Fault(RuntimeError):
    """A problem with the installation or the data, reported in one line with `status`."""

    status = 1


class BadSetting(Fault):
    """An environment variable or flag that cannot be used (a number that is not one)."""

    status = EXIT_BAD_INPUT


class PlanUnreadable(Fault):
    """The plan text cannot be used: missing, unreadable, empty, not UTF-8, not the plan."""

    status = EXIT_PLAN_UNREADABLE


class CannotWrite(Fault):
    """A file or folder the program must write (the index, the feedback database) cannot be written."""

    status = EXIT_CANNOT_WRITE


class CannotListen(Fault):
    """The chat server cannot listen on the address and port it was given."""

    status = EXIT_CANNOT_LISTEN


def one_line(text: object, limit: int = 300) -> str:
    """`text` as one printable line of at most `limit` characters (for messages built
    from file names and OS errors, which may hold anything)."""
    line = " ".join(str(text).split())
    line = "".join(c if c.isprintable() else "?" for c in line)
    return line if len(line) <= limit else line[: limit - 1] + "…"
