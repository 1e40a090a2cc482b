"""The lake layer: Delta tables read and written by Spark, logged by delta-rs."""
from inferwatch.lake.schema import SchemaMismatchError
from inferwatch.lake.table import ConcurrentWriteError, DataFile, Table

__all__ = ["ConcurrentWriteError", "DataFile", "SchemaMismatchError", "Table"]
