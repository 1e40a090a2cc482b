"""spark-submit entry point, `inferwatch run performance` on a cluster:

    spark-submit jobs/performance.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.performance import main

if __name__ == "__main__":
    main()
