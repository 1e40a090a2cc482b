"""A model file's settings sections, typed and checked when the file loads.

`drift:`, `alerts:` and `quality:` each become a frozen dataclass (`DriftSettings`,
`AlertSettings`, `QualitySettings`) whose fields are the section's keys and whose field
defaults are the only defaults; the jobs read those objects, never the YAML's dicts. A
mistake (unknown key, wrong type, out of range) is one `ConfigError` line at load naming
the file and the key (`model_settings.keys`). docs/configuration.md lists every key;
tests/test_configuration_reference.py holds it to these classes.
"""
from __future__ import annotations

from inferwatch.model_settings.alerts import AlertSettings, AnomalySettings, Bound
from inferwatch.model_settings.drift import DriftSettings, MultivariateSettings
from inferwatch.model_settings.keys import parse_section
from inferwatch.model_settings.quality import QualitySettings, check_expectations

# each section of a model file and the class it is read into
SECTIONS = {"drift": DriftSettings, "quality": QualitySettings, "alerts": AlertSettings}

__all__ = ["SECTIONS", "AlertSettings", "AnomalySettings", "Bound", "DriftSettings",
           "MultivariateSettings", "QualitySettings", "check_expectations", "parse_section"]
