"""spark-submit entry point, `inferwatch run partition` on a cluster:

    spark-submit jobs/partition.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.partition import main

if __name__ == "__main__":
    main()
