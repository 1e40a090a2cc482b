"""spark-submit entry point: `spark-submit jobs/hourly.py --conf conf/cluster.yaml`."""
from _entry import main

if __name__ == "__main__":
    main("hourly")
