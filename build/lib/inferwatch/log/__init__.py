"""The serving-side logger: inferences and labels to the lake with no Spark and no JVM.

    from inferwatch.log import InferenceLogger

    logger = InferenceLogger("s3://bucket/lake", model_id="fraud", models_dir="conf/models")
    logger.log(inference_id=request_id, features=features, prediction=score)

Needs only pyarrow, deltalake and pyyaml (`pip install inferwatch` without the `spark`
extra); rows go through the same rules as `inferwatch ingest` (`ingest.contract`).
"""
from inferwatch.log.logger import COUNTERS, InferenceLogger

__all__ = ["COUNTERS", "InferenceLogger"]
