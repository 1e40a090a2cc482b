"""spark-submit entry point, `inferwatch run drift` on a cluster:

    spark-submit jobs/drift.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.drift import main

if __name__ == "__main__":
    main()
