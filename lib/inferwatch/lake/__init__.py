"""The lake layer: Delta tables read and written by Spark, logged by delta-rs."""
from inferwatch.lake.commit import ConcurrentWriteError
from inferwatch.lake.files import DataFile
from inferwatch.lake.schema import SchemaMismatchError
from inferwatch.lake.table import Table

__all__ = ["ConcurrentWriteError", "DataFile", "SchemaMismatchError", "Table"]
