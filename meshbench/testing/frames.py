"""One cell or one row of a pandas frame, typed, for tests that check analysis figures.

pandas-stubs type ``frame.loc[row, column]`` as any scalar a frame can hold (str, bytes,
dates, Timestamp, None, ...) and ``frame.loc[(mesh, label)]`` on a MultiIndex as a scalar
too, so arithmetic, ordering or ``in`` on what a lookup returns does not type-check. These
helpers make the same ``.loc`` lookup and return the one value the test means, and raise
``TypeError`` where the lookup found something else (a Series, when a label repeats; a
string where a number was expected), which the untyped lookup would have let through.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

Label = str | int | float
# a row label, or a tuple of them: one row of a MultiIndex
Key = str | int | tuple[Label, ...]


def _cell(frame: pd.DataFrame, row: Key, column: str) -> object:
    found: object = frame.loc[row, column]
    return found


def value(frame: pd.DataFrame, row: Key, column: str) -> float:
    """``frame.loc[row, column]`` as a float: it must be one number (not a bool)."""
    found = _cell(frame, row, column)
    if isinstance(found, bool | np.bool_) or not isinstance(
        found, int | float | np.integer | np.floating
    ):
        raise TypeError(f"frame.loc[{row!r}, {column!r}] is {found!r}, not one number")
    return float(found)


def text(frame: pd.DataFrame, row: Key, column: str) -> str:
    """``frame.loc[row, column]`` as a str: it must be one string."""
    found = _cell(frame, row, column)
    if not isinstance(found, str):
        raise TypeError(f"frame.loc[{row!r}, {column!r}] is {found!r}, not one string")
    return found


def cells(frame: pd.DataFrame, row: Key, column: str) -> pd.Series[Any]:
    """``frame.loc[row, column]`` where ``row`` labels several rows: the Series of its cells."""
    found = _cell(frame, row, column)
    if not isinstance(found, pd.Series):
        raise TypeError(f"frame.loc[{row!r}, {column!r}] is {found!r}, not a Series")
    return found


def row(frame: pd.DataFrame, key: Key) -> pd.Series[Any]:
    """``frame.loc[key]``: it must be one row (a tuple key names one row of a MultiIndex)."""
    # pandas-stubs have no .loc overload for a MultiIndex row key on its own (a tuple
    # without a column), which pandas reads as one row
    found: object = frame.loc[key]  # type: ignore[index]
    if not isinstance(found, pd.Series):
        raise TypeError(f"frame.loc[{key!r}] is not one row: {found!r}")
    return found
