"""spark-submit entry point, `inferwatch run multivariate` on a cluster:

    spark-submit jobs/multivariate.py --conf conf/cluster.yaml [options]
"""
from inferwatch.jobs.multivariate import main

if __name__ == "__main__":
    main()
