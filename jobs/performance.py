"""spark-submit entry point: `spark-submit jobs/performance.py --conf conf/cluster.yaml`."""
from _entry import main

if __name__ == "__main__":
    main("performance")
