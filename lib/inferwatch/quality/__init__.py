"""Data quality: Great Expectations suites, suggested from a baseline, tuned on history and
validated per model-hour."""
