"""spark-submit entry point: `spark-submit jobs/join_labels.py --conf conf/cluster.yaml`."""
from _entry import main

if __name__ == "__main__":
    main("join-labels")
