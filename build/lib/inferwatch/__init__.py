"""inferwatch: monitor ML models in production from the raw log of their inferences."""
__version__ = "0.1.0"
