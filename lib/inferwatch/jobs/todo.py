"""Which hours a per-model job must recompute, from each model's own progress.

For a model: the hours an earlier bounded run owes it, plus every (model_id, hour)
partition of the inputs that changed since the versions its last ok run recorded (of an
input partitioned by model alone, the hours of the rows added since; all
of them for a model never run: a model described after its data arrived gets its whole
history). Hours inside `--start/--end` are done now; the rest are owed, recorded with
the run, and done by a later run whose range holds them. `--rebuild` adds every stored
hour of the model, changed or not. A job that reads another job's output owes the hours
that job still owes as well (`after_upstream`): it never computes past what its inputs
owe.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar
from datetime import datetime

from inferwatch.console import progress
from inferwatch.model_config import ModelConfig
from inferwatch.context import Context
from inferwatch.runs import Progress, Run, track
from inferwatch.granularity import utc
from inferwatch.scoped_conf import sized

P = TypeVar("P")


def hours_to_do(ctx: Context, progress: Progress, models: Mapping[str, ModelConfig],
                inputs: Sequence[str], versions: Mapping[str, int]
                ) -> dict[str, tuple[set[datetime], set[datetime]]]:
    """{model_id: (hours to recompute now, hours owed to a later run)}."""
    changed_since: dict[tuple[str, int | None], list[dict]] = {}  # one file diff per cursor

    def changed(name: str, since: int | None) -> list[dict]:
        if (name, since) not in changed_since:
            table = ctx.lake.table(name)
            if "hour" in table.partition_columns():
                parts = table.changed_partitions(since, versions[name])
            else:  # partitioned by model alone (state/deliveries): the added rows' hours
                parts = [r.asDict() for r in table.read_added(since, versions[name])
                         .select("model_id", "hour").distinct().collect()]
            changed_since[(name, since)] = parts
        return changed_since[(name, since)]

    todo = {}
    for model_id in models:
        hours = set(progress.owed(model_id))
        for table in inputs:
            hours |= {utc(p["hour"]) for p in changed(table, progress.cursor(table, model_id))
                      if p["model_id"] == model_id}
        now = {h for h in hours if ctx.in_range(h)}
        owed = hours - now
        if ctx.rebuild:  # every stored hour of the range, changed or not; none owed for it
            now |= {utc(p["hour"]) for p in changed("inferences", None)
                    if p["model_id"] == model_id and ctx.in_range(utc(p["hour"]))}
        todo[model_id] = (now, owed)
    return todo


def after_upstream(hours: set[datetime], owed: set[datetime], upstream_owed: set[datetime]
                   ) -> tuple[set[datetime], set[datetime], set[datetime]]:
    """(hours to do now, hours owed, hours waiting): the hours an upstream job still owes
    (its own `hours_owed`) move from now to owed. Computed now they would read missing or
    stale upstream output, and the job's progress would move past them; owed, they are
    done by the first run after the upstream job has done them."""
    waiting = hours & upstream_owed
    return hours - waiting, owed | waiting, waiting


def run_fleet(ctx: Context, job_name: str, inputs: Sequence[str],
              prepare: Callable[[Context, ModelConfig, set[datetime], Run, Progress], Any],
              compute: Callable[[Context, dict[str, Any], dict[str, int]], dict[str, Any]],
              write: Callable[[Context, dict[str, Any], dict[str, Run]], dict[str, int]],
              always: bool = False, upstream: str | None = None,
              shape: Callable[[Any], Hashable] | None = None) -> Run:
    """The shape of a job that treats every model at once: record the run, find each
    model's hours from its own progress, `prepare` each model's plan (None: nothing to
    do; a model whose settings break fails here, alone), `compute` every plan together
    ({model_id: result}), and `write` the results with one commit per output table
    ({table: version}). If the joint `compute` fails, each group of models alike
    (`shape(plan)`; without it, each model) is computed alone, and a group that fails in
    halves down to single models, so the failing one is recorded failed and the others
    are written. With `always`, a model with no changed hour is prepared too. With `upstream` (a job whose output this
    one reads), each model's inputs are the versions that job got to for it, and the
    hours it still owes wait (`after_upstream`)."""
    models = ctx.selected_models()
    with track(ctx.lake, job_name, _params(ctx, models)) as job:
        if upstream is None:
            versions, done, todo = _begin(ctx, job, inputs, models)
            reached = dict.fromkeys(models, versions)
            above = None
        else:
            done, above = Progress(ctx.lake, job_name), Progress(ctx.lake, upstream)
            reached, todo = _after(ctx, done, above, inputs, models)
            versions = {}
        plans: dict[str, Any] = {}
        parts: dict[str, Run] = {}
        with progress(f"[{job_name}] planning", len(models), "models") as meter:
            for model_id in sorted(models):
                meter.working_on(model_id)
                if reached[model_id] is None:
                    job.for_model(model_id).notes.append(
                        f"not {upstream}d yet; run {upstream} first")
                    meter.advance()
                    continue
                hours, owed = todo[model_id]
                waiting = set()
                if above is not None:
                    hours, owed, waiting = after_upstream(hours, owed, above.owed(model_id))
                part = parts[model_id] = _part(job, model_id, reached[model_id], owed)
                if waiting:
                    part.notes.append(f"{len(waiting)} hours wait for {upstream}, which owes "
                                      "them")
                job.notes.append(_recomputed(model_id, hours, owed))
                if hours or always:
                    _guarded(part, lambda: plans.__setitem__(  # noqa: B023
                        model_id, prepare(ctx, models[model_id], hours, part, done)))
                meter.advance()
        plans = {m: p for m, p in plans.items() if p is not None}
        rows = sum(rows_listed(ctx, {m: todo[m][0] for m in plans}, None).values())
        # every model's plan at once: the meter's line says how long they took together
        with progress(f"[{job_name}] computing", len(plans), "models") as meter, \
                sized(ctx.spark, rows):
            meter.working_on(", ".join(sorted(plans)[:3]) + (", ..." if len(plans) > 3 else ""))
            results = _computed(ctx, parts, plans, versions, compute, shape)
            if results:
                outputs = write(ctx, results, {m: parts[m] for m in results})
                for model_id in results:
                    parts[model_id].outputs.update(outputs)
            meter.advance(len(plans))
        for model_id, part in sorted(job.models.items()):
            job.notes += [f"{model_id}: {note}" for note in part.notes]
        job.add_totals()
    return job


def rows_listed(ctx: Context, hours: Mapping[str, set[datetime]], version: int | None
                ) -> dict[str, int]:
    """{model_id: rows} the Delta log says `inferences` holds (at `version`) in each
    model's `hours`: one listing for every model, independent of any join."""
    listed = ctx.lake.table("inferences").files(
        version, stats=(), partitions=[{"model_id": m, "hour": h}
                                       for m, hs in hours.items() for h in sorted(hs)])
    out = dict.fromkeys(hours, 0)
    for f in listed:
        out[f.partition["model_id"]] += f.num_records or 0
    return out


def _after(ctx: Context, done: Progress, above: Progress, inputs: Sequence[str],
           models: Mapping[str, ModelConfig]
           ) -> tuple[dict[str, dict[str, int] | None], dict[str, tuple[set, set]]]:
    """Each model's input versions as the upstream job left them (None: it has not run
    for the model) and its hours to do at those versions (one diff per set of versions)."""
    reached: dict[str, dict[str, int] | None] = {}
    for model_id in models:
        versions = {t: above.cursor(t, model_id) for t in inputs}
        reached[model_id] = None if any(v is None for v in versions.values()) else versions
    todo: dict[str, tuple[set, set]] = {}
    groups: dict[tuple, dict[str, ModelConfig]] = {}
    for model_id, versions in reached.items():
        if versions is not None:
            groups.setdefault(tuple(sorted(versions.items())), {})[model_id] = models[model_id]
    for key, group in groups.items():
        todo.update(hours_to_do(ctx, done, group, inputs, dict(key)))
    return reached, todo


def alike(plans: Mapping[str, P], shape: Callable[[P], Hashable]) -> list[list[P]]:
    """`plans` in groups of equal `shape(plan)`, each in model order: models alike are
    computed as one branch of a joint plan (one read of their rows, one aggregation keyed
    by model), so a fleet of copies of one description costs a plan, not a plan per model."""
    groups: dict[Hashable, list[P]] = {}
    for _model_id, plan in sorted(plans.items()):
        groups.setdefault(shape(plan), []).append(plan)
    return list(groups.values())


def _params(ctx: Context, models: Mapping[str, ModelConfig]) -> dict[str, Any]:
    return {"start": ctx.start, "end": ctx.end, "models": sorted(models),
            "rebuild": ctx.rebuild}


def _begin(ctx: Context, job: Run, inputs: Sequence[str], models: Mapping[str, ModelConfig]
           ) -> tuple[dict[str, int], Progress, dict[str, tuple[set[datetime], set[datetime]]]]:
    """(input versions, the job's progress, each model's hours to do and owed), each read
    once for the run."""
    versions = {name: ctx.lake.table(name).version() for name in inputs}
    job.inputs.update(versions)
    done = Progress(ctx.lake, job.job)
    return versions, done, hours_to_do(ctx, done, models, inputs, versions)


def _part(job: Run, model_id: str, versions: dict[str, int], owed: set[datetime]) -> Run:
    part = job.for_model(model_id)
    part.inputs.update(versions)
    part.owed = sorted(owed)
    return part


def _recomputed(model_id: str, hours: set[datetime], owed: set[datetime]) -> str:
    return (f"{model_id}: {len(hours)} hours recomputed"
            + (f", {len(owed)} owed to a later run" if owed else ""))


def _computed(ctx: Context, parts: dict[str, Run], plans: dict[str, Any],
              versions: dict[str, int], compute: Callable,
              shape: Callable[[Any], Hashable] | None) -> dict[str, Any]:
    """Every plan computed together; if that fails, each group alike (`shape`) alone, and
    a group that fails in halves, down to the models that fail alone (failures are
    values): one bad model among n alike costs about 2 log2(n) plans, not n."""
    if not plans:
        return {}
    try:
        return compute(ctx, plans, versions)
    except Exception as err:  # noqa: BLE001 - isolate the model that breaks the joint plan
        if len(plans) == 1:
            failed(parts[next(iter(plans))], err)
            return {}
    results: dict[str, Any] = {}
    ids = {id(plan): model_id for model_id, plan in plans.items()}

    def isolate(members: dict[str, Any], tried: bool = False) -> None:
        if len(members) == 1:
            model_id, plan = next(iter(members.items()))
            _guarded(parts[model_id], lambda: results.update(
                compute(ctx, {model_id: plan}, versions)))
            return
        if not tried:
            try:
                results.update(compute(ctx, members, versions))
                return
            except Exception:  # noqa: BLE001 - one of them breaks it: each half alone
                pass
        ordered = sorted(members.items())
        half = len(ordered) // 2
        isolate(dict(ordered[:half]))
        isolate(dict(ordered[half:]))

    groups = alike(plans, shape) if shape is not None else [[p] for _m, p in sorted(plans.items())]
    for group in groups:  # a single group is the joint plan that just failed
        isolate({ids[id(plan)]: plan for plan in group}, tried=len(groups) == 1)
    return results


def _guarded(part: Run, step: Callable[[], Any]) -> None:
    try:
        step()
    except Exception as err:  # noqa: BLE001 - failures are values; others go on
        failed(part, err)


def failed(part: Run, err: BaseException) -> None:
    """Record a model's failure as a value: its status, error and a note."""
    part.fail(err)
    part.notes.append(f"failed: {part.error[:200]}")
