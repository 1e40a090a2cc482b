"""`inferwatch.read` serves notebooks with no Spark: importing it imports no pyspark."""
from __future__ import annotations

import subprocess
import sys


def test_read_and_config_import_no_pyspark():
    code = ("import sys, inferwatch.read, inferwatch.config, inferwatch.lake.storage; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyspark'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
