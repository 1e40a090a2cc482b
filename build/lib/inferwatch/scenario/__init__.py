"""The demo's deterministic scenario: two models, their raw logs and known incidents.

    >>> sc = generate(seed=7, days=2, rows_per_hour=30)
    >>> paths = write(sc, "/tmp/scenario")
"""
from inferwatch.scenario.files import write
from inferwatch.scenario.generate import (
    DEFAULT_START,
    FRAUD_THRESHOLD,
    SUPPORTED_MODELS,
    Scenario,
    generate,
    model_description,
)

__all__ = ["DEFAULT_START", "FRAUD_THRESHOLD", "SUPPORTED_MODELS", "Scenario", "generate",
           "model_description", "write"]
