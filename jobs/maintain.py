"""spark-submit entry point, `inferwatch run maintain` on a cluster:

    spark-submit jobs/maintain.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.maintain import main

if __name__ == "__main__":
    main()
