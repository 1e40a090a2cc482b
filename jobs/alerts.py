"""spark-submit entry point, `inferwatch run alerts` on a cluster:

    spark-submit jobs/alerts.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.alerts import main

if __name__ == "__main__":
    main()
