"""Writing what a fleet job computed: each model's rows accounted against what the Delta
log lists for its hours, and the hourly states of the models that pass handed to the
job's one write; what models alike computed together (notes, dropped slices) given to
each of them."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame

from inferwatch.lake.sql_text import sql_in
from inferwatch.frames import release
from inferwatch.context import Context
from inferwatch.jobs.todo import failed, rows_listed
from inferwatch.metrics.windows import union
from inferwatch.runs import Run


def share(group: Iterable[Any], notes: list[str], details: Mapping[str, dict]) -> None:
    """Give every plan of a group of models alike (a plan has `notes` and `part`) the
    notes and run details (`slices_dropped`) their one joint computation left."""
    for plan in group:
        plan.notes = list(notes)
        for key, value in details.items():
            plan.part.details.setdefault(key, {}).update(value)


def accounted(ctx: Context, results: Mapping[str, tuple[set[datetime], int]],
              parts: Mapping[str, Run]) -> dict[str, set[datetime]]:
    """{model_id: hours} of the models whose rows may be written: each model's `rows_in`
    (what the Delta log lists for its hours, at the version of `inferences` its part
    read) against its `rows_out` (what its state counted) in `results` ({model_id:
    (hours, rows_out)}); a model whose accounting breaks is failed alone, its rows left
    out."""
    by_version: dict[int, dict[str, set[datetime]]] = {}
    for model_id, (hours, _rows_out) in results.items():
        by_version.setdefault(parts[model_id].inputs["inferences"], {})[model_id] = hours
    listed = {m: n for version, hours in by_version.items()
              for m, n in rows_listed(ctx, hours, version).items()}
    changed = {}
    for model_id, (hours, rows_out) in results.items():
        part = parts[model_id]
        part.rows_in, part.rows_out = listed[model_id], rows_out
        try:
            part.check_accounting()
        except RuntimeError as err:  # this model's rows are not written; others are
            failed(part, err)
            continue
        changed[model_id] = hours
    return changed


def write_states(ctx: Context, results: Mapping[str, tuple[Any, DataFrame, int]],
                 parts: Mapping[str, Run],
                 write: Callable[[dict[str, set[datetime]], DataFrame], dict[str, int]]
                 ) -> dict[str, int]:
    """Write the hourly states a fleet job computed ({model_id: (plan, state, rows
    counted)}; a plan has `hours` and `notes`; models may share one state): each model's
    notes kept, its rows accounted (`accounted`), and `write(changed, fresh)` handed the
    hours and the states of the models that may be written; the states are released
    after, written or not."""
    states = {id(state): state for _plan, state, _n in results.values()}
    try:
        for model_id, (plan, _state, _n) in results.items():
            parts[model_id].notes += plan.notes
        changed = accounted(ctx, {m: (plan.hours, n) for m, (plan, _s, n) in results.items()},
                            parts)
        if not changed:
            return {}
        fresh = union(list(states.values())).where(sql_in("model_id", changed))
        return write(changed, fresh)
    finally:
        for state in states.values():
            release(state)
