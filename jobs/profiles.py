"""spark-submit entry point, `inferwatch run profile` on a cluster:

    spark-submit jobs/profiles.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.profile import main

if __name__ == "__main__":
    main()
