"""spark-submit entry point, `inferwatch run hourly` on a cluster:

    spark-submit jobs/hourly.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.hourly import main

if __name__ == "__main__":
    main()
