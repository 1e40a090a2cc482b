"""Validate a model-hour's rows with a Great Expectations suite and flatten the results.

One GX Core ephemeral context per process (its Spark data source and whole-dataframe
batch definition are reused), one validation per model-hour with every expectation of
the suite, progress bars off. Every expectation result becomes one row of
`QUALITY_SCHEMA`: an expectation that raised (a missing column, a bad kwarg) is a failed
row with its exception text, never a crashed job.

A suite is a list of expectation specs as GX writes them in JSON (`type`, `kwargs`,
`meta`, optional `severity`: `critical`, `warning` or `info`), so a user's own
expectations are written the way GX users already write them.
"""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import types as T

QUALITY_SCHEMA = T.StructType([T.StructField(n, t) for n, t in [
    ("model_id", T.StringType()), ("granularity", T.StringType()),
    ("window_start", T.TimestampType()), ("suite", T.StringType()),
    ("expectation_type", T.StringType()), ("column", T.StringType()),
    ("kwargs", T.StringType()), ("success", T.BooleanType()),
    ("observed_value", T.StringType()), ("element_count", T.LongType()),
    ("unexpected_count", T.LongType()), ("unexpected_percent", T.DoubleType()),
    ("severity", T.StringType()), ("exception", T.StringType()), ("meta", T.StringType()),
    ("message", T.StringType())]])
# observed values and counts, no unexpected-value lists: those cost a Spark job each
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}

_CONTEXT: dict[str, Any] = {}


def _batch_definition():
    """The process's GX context, Spark data source and whole-dataframe batch definition."""
    if not _CONTEXT:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False,
                                                             metric_calculations=False)
        asset = context.data_sources.add_spark(name="inferwatch").add_dataframe_asset(
            name="model_hour")
        _CONTEXT["context"] = context
        _CONTEXT["batch"] = asset.add_batch_definition_whole_dataframe("whole")
    return _CONTEXT["context"], _CONTEXT["batch"]


def build_suite(name: str, specs: Sequence[dict]):
    """A GX ExpectationSuite from JSON-style specs; a spec GX refuses raises ValueError
    naming it."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    # GX's own add_expectation_configuration upserts by domain, comparing each new
    # expectation with every one before it (each comparison rebuilding both
    # configurations): 128 expectations took 0.5 s a suite, 94 s for 100 models. The
    # same test (type and domain kwargs equal), each domain computed once:
    expectations, kept = [], {}  # {type: [domain kwargs]}
    for i, spec in enumerate(specs):
        try:
            config = ExpectationConfiguration(
                type=spec["type"], kwargs=dict(spec.get("kwargs", {})), meta=spec.get("meta"),
                severity=spec.get("severity", "critical"))
            domain = config.get_domain_kwargs()
            expectation = config.to_domain_obj()  # what the suite holds; refuses bad specs
        except Exception as err:  # noqa: BLE001 - GX raises many kinds; one message
            raise ValueError(f"suite {name}, expectation {i + 1} ({spec.get('type')}): "
                             f"{str(err).splitlines()[0][:200]}") from None
        expectations.append(expectation)
        same_type = kept.setdefault(config.type, [])
        if domain not in same_type:
            same_type.append(domain)
    distinct = sum(len(v) for v in kept.values())
    if distinct != len(specs):
        raise ValueError(f"suite {name}: {len(specs)} expectations collapsed into "
                         f"{distinct} (GX treats some as one, e.g. "
                         "expect_column_to_exist of two columns); use one "
                         "expect_table_columns_to_match_set")
    return gx.ExpectationSuite(name=name, expectations=expectations)


def stored_kwargs(name: str, specs: Sequence[dict]) -> list[dict]:
    """Each spec's kwargs as GX keeps them in its results (defaults dropped, bounds
    coerced), in order: what `metrics/quality` stores whichever path judged the hour.
    Raises as `build_suite` for a spec GX refuses. GX takes ~0.1 s to build a suite, so
    the answer for the same specs is remembered for the process (whatever the suite's
    name: a fleet's models often share one suggested suite's specs)."""
    key = json.dumps(list(specs), sort_keys=True, default=repr)
    if key not in _KWARGS:
        if len(_KWARGS) > 256:
            _KWARGS.clear()
        _KWARGS[key] = [
            {k: v for k, v in e.configuration.to_json_dict()["kwargs"].items()
             if k != "batch_id"} for e in build_suite(name, specs).expectations]
    return copy.deepcopy(_KWARGS[key])


_KWARGS: dict[str, list[dict]] = {}


def validate(rows: DataFrame, suite, model_id: str, hour: datetime) -> list[tuple]:
    """Validate `rows` (one model-hour, cached by the caller) with `suite`; one
    `QUALITY_SCHEMA` tuple per expectation."""
    _context, definition = _batch_definition()
    batch = definition.get_batch(batch_parameters={"dataframe": rows})
    result = batch.validate(suite, result_format=RESULT_FORMAT)
    return [result_row(r.to_json_dict(), suite.name, model_id, hour) for r in result.results]


def result_row(result: dict, suite: str, model_id: str, hour: datetime,
               texts: dict[int, tuple[Any, str]] | None = None) -> tuple:
    """One `QUALITY_SCHEMA` tuple from a GX result dict (`to_json_dict()`), or from
    `quality.judge`, which returns the same shape. `texts`: a memo the caller keeps while
    its results share kwargs and meta objects (a model's hours judged with one suite:
    their JSON text, 2 of a row's 10 us, is then written once per expectation)."""
    config = result.get("expectation_config") or {}
    kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
    found = result.get("result") or {}
    raised, message = _exception(result.get("exception_info") or {})
    observed = found.get("observed_value")
    mismatched = (found.get("details") or {}).get("mismatched")
    if mismatched:  # a column set: say what is missing and what is new
        observed = {"columns": observed, **mismatched}
    success = bool(result.get("success")) and not raised
    return (model_id, "1h", hour, suite, config.get("type"), kwargs.get("column"),
            _text(config.get("kwargs"), kwargs, texts),
            success,
            None if observed is None else json.dumps(observed, default=str),
            _int(found.get("element_count")), _int(found.get("unexpected_count")),
            _float(found.get("unexpected_percent")),
            str(config.get("severity") or "critical"),
            message,
            _text(config.get("meta"), config.get("meta") or {}, texts),
            None if success else message or explain(config.get("type"), kwargs, found,
                                                    mismatched))


def explain(kind: str | None, kwargs: dict, found: dict, mismatched: dict | None) -> str:
    """One line saying why an expectation failed."""
    where = f"{kwargs['column']}: " if kwargs.get("column") else ""
    if mismatched:
        parts = [f"{k} {', '.join(map(str, v))}" for k, v in sorted(mismatched.items()) if v]
        return f"schema changed: {'; '.join(parts)}"
    if found.get("unexpected_percent") is not None:
        allowed = 100.0 * (1.0 - float(kwargs.get("mostly", 1.0)))
        return (f"{where}{found['unexpected_percent']:.1f}% of {found.get('element_count')} "
                f"rows unexpected (allowed {allowed:.1f}%) by {kind}")
    bounds = f"[{kwargs.get('min_value')}, {kwargs.get('max_value')}]"
    return f"{where}observed {found.get('observed_value')} outside {bounds} ({kind})"


def _exception(info: dict) -> tuple[bool, str | None]:
    """(raised, message) from GX's exception_info: one dict, or one per metric that failed
    to resolve (a missing column shows up that way)."""
    found = [info] if "raised_exception" in info else [
        v for v in info.values() if isinstance(v, dict)]
    messages = [str(v.get("exception_message") or "error") for v in found
                if v.get("raised_exception")]
    return bool(messages), ("; ".join(dict.fromkeys(messages))[:1000] if messages else None)


def _text(source: Any, value: Any, texts: dict[int, tuple[Any, str]] | None) -> str:
    """`value` (made from `source`) as sorted JSON, remembered in `texts` by `source`'s
    identity (the memo holds `source`, so its id is not reused while remembered). An
    empty source is not remembered: a spec without meta gets a new `{}` each row."""
    if texts is None or not source:
        return json.dumps(value, sort_keys=True, default=str)
    known = texts.get(id(source))
    if known is None or known[0] is not source:
        known = texts[id(source)] = (source, json.dumps(value, sort_keys=True, default=str))
    return known[1]


def _int(value) -> int | None:
    return None if value is None else int(value)


def _float(value) -> float | None:
    return None if value is None else float(value)
