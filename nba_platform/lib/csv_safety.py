"""CSV files the platform writes for people (predictions, the corrections file): no cell may be
read as a formula by a spreadsheet (CSV injection, e.g. `=cmd|' /C calc'!A0`).

A text cell starting with `=`, `+`, `-`, `@` (or a tab / carriage return, which some spreadsheets
strip before reading the rest) gets a leading apostrophe, as OWASP recommends; a cell that is a
plain number (`-5`, `+1.5`) is left as it is, so numbers read back as numbers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def neutralise_cell(value):
    """The value as a spreadsheet-safe cell (non-text values pass through)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text columns are neutralised cell by cell (numeric columns untouched)."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_string_dtype(out[column].dtype) or out[column].dtype == object:
            out[column] = out[column].map(neutralise_cell, na_action="ignore")
    return out
