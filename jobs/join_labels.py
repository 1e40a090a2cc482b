"""spark-submit entry point, `inferwatch run join-labels` on a cluster:

    spark-submit jobs/join_labels.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.join_labels import main

if __name__ == "__main__":
    main()
