"""Errors the engine reports to a person, each with a message that says what to fix."""

from __future__ import annotations


class DnnStudioError(Exception):
    """Base class for errors whose message is meant to be shown to the user as it is."""


class HyperparameterError(DnnStudioError, ValueError):
    """A hyperparameter value was refused.

    Parameters
    ----------
    field : str
        The hyperparameter's name, as the user sees it (``alpha``, ``hidden``, ...).
    value : object
        The value that was refused.
    allowed : str
        What would have been accepted, in words (``"a number > 0"``).
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field} = {value!r} is not allowed: {field} must be {allowed}.")


class DataError(DnnStudioError, ValueError):
    """A dataset could not be read or used.

    Parameters
    ----------
    message : str
        What is wrong and what to do about it.
    row : int, optional
        1-based line number in the file (the header is line 1), when one row is at fault.
    column : str, optional
        The column's name (or 1-based number when it has none), when one column is at fault.
    """

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        self.row = row
        self.column = column
        where = []
        if row is not None:
            where.append(f"line {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)
