"""Session settings for one block of work, and compiled or interpreted expressions by
the size of a run.

Spark compiles each query's expressions (projections, predicates, orderings) into Java
classes (Janino), which the JVM's JIT then compiles again: tens to hundreds of
milliseconds a distinct query, whatever its rows. A job's queries are distinct (their
models, columns and literals differ), so on a run of few rows compiling costs more than
evaluating. On the test scenario's lake (19,000 rows, 2 models, 96 hours, one session)
every job of `hourly` took 101 s compiled and 82 s interpreted, and the same jobs on a
second lake 70 s and 60 s; on 1,000,000 rows, the interpreted partition job took 46 s
where the compiled one takes 31 s (docs/benchmarks.md). `sized` makes a run of fewer
than SMALL_RUN rows evaluate its expressions interpreted
(`spark.sql.codegen.factoryMode=NO_CODEGEN`; whole-stage code generation stays as set).
The results are the same either way, floating-point sums up to their rounding (rows may
be added in another order); an environment file that sets the key wins.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import ContextManager

from pyspark.sql import SparkSession

# between the two measured sizes above; a run's rows are what its inputs list for the
# hours it computes (the Delta log's record counts), not a count
SMALL_RUN = 100_000
FACTORY_MODE = "spark.sql.codegen.factoryMode"


@contextmanager
def scoped(spark: SparkSession, values: Mapping[str, str]) -> Iterator[None]:
    """The session runs with `values` inside the block; each key's value (or its
    absence) before it is restored after it, also when the block raises."""
    before = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def sized(spark: SparkSession, rows: int) -> ContextManager[None]:
    """Interpreted expressions inside the block when the run reads fewer than SMALL_RUN
    rows and nothing set the factory mode; else the session as it is."""
    if rows >= SMALL_RUN or spark.conf.get(FACTORY_MODE, None) is not None:
        return nullcontext()
    return scoped(spark, {FACTORY_MODE: "NO_CODEGEN"})
