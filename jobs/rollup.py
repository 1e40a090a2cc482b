"""spark-submit entry point, `inferwatch run rollup` on a cluster:

    spark-submit jobs/rollup.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.rollup import main

if __name__ == "__main__":
    main()
