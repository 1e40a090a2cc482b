"""spark-submit entry point, `inferwatch run quality` on a cluster:

    spark-submit jobs/quality.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.quality import main

if __name__ == "__main__":
    main()
