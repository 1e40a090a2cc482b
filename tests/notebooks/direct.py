"""The lake's tables read directly with delta-rs: the reference the tests hold the
notebooks and the report to (not through `inferwatch.read` or `inferwatch.report`)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from deltalake import DeltaTable

MODELS = ("fraud", "eta")  # a binary classifier and a regressor


def rows(lake: Path, name: str, model: str) -> pd.DataFrame:
    """One model's rows of a table; empty when the lake has no such table."""
    path = lake / name
    if not DeltaTable.is_deltatable(str(path)):
        return pd.DataFrame()
    return DeltaTable(str(path)).to_pandas(filters=[("model_id", "=", model)])
