"""The spark-submit entry point: `spark-submit jobs/submit.py JOB [options]` is
`inferwatch run JOB [options]` on a cluster (JOB: a job name or `hourly`), e.g.

    spark-submit jobs/submit.py partition --conf conf/cluster.yaml
"""
import sys

from inferwatch.cli import entry

if __name__ == "__main__":
    entry(["run", *sys.argv[1:]])
