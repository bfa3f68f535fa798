"""`DataFrame`: the annotation for asset and check parameters and results that are pandas frames.

Dagster resolves these annotations when the definitions load, and `pandas.DataFrame` there would
import pandas (~0.5 s) in every webserver, daemon, code server and run worker start. Type checkers
see `pandas.DataFrame`; at run time Dagster sees a type with the same name and the same isinstance
check on each value, which imports pandas only when a value is checked (in a run, where the lake
IO manager has imported it already).
"""

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from pandas import DataFrame
else:

    def _is_data_frame(_context, value) -> dg.TypeCheck:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return dg.TypeCheck(success=True)
        return dg.TypeCheck(
            success=False,
            description=f"Value of type {type(value)} failed type check for Dagster type DataFrame, "
            "expected value to be of Python type pandas.core.frame.DataFrame.",
        )

    DataFrame = dg.DagsterType(
        type_check_fn=_is_data_frame,
        key="pandas.DataFrame",
        name="DataFrame",
        description="A pandas.DataFrame (isinstance check).",
    )
