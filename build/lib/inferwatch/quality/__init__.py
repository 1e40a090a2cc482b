"""Data quality: Great Expectations suites validated per model-hour (issue in progress)."""
