"""A model's `alerts:` section: defaults without one, one-line errors for mistakes."""
from __future__ import annotations

import dataclasses

import pytest

from inferwatch.alerts.settings import settings
from inferwatch.config import ConfigError
from tests.helpers import models


def test_a_model_without_a_section_gets_the_defaults():
    fraud = dataclasses.replace(models()["fraud"], alerts={})
    got = settings(fraud)
    assert got["enabled"] and got["webhook"] is None and got["min_severity"] == "warning"
    assert got["anomalies"][0]["metrics"][:2] == ["auc", "accuracy"]
    assert got["min_windows"]["drift"] == 2 and got["clear_windows"] == 3


@pytest.mark.parametrize("section,key", [
    ({"florrs": {}}, "alerts.florrs"),
    ({"floors": {"auc": "high"}}, "alerts.floors.auc"),
    ({"min_windows": {"drift": 0}}, "alerts.min_windows.drift"),
    ({"min_windows": {"drift": True}}, "alerts.min_windows.drift"),  # YAML's true: no count
    ({"webhook": "hooks.example"}, "alerts.webhook"),
    ({"min_severity": "loud"}, "alerts.min_severity"),
    ({"anomaly": {"granularity": "5m"}}, "alerts.anomaly.granularity"),
    ({"anomaly": [{"metrics": ["n"]}, {"seasonal": "yes"}]}, "alerts.anomaly[1].seasonal"),
    ({"anomaly": "auc"}, "alerts.anomaly"),
])
def test_a_mistake_is_one_line_naming_the_key(section, key):
    with pytest.raises(ConfigError) as err:  # when the model is built, as when its file loads
        dataclasses.replace(models()["fraud"], alerts=section)
    assert key in str(err.value) and "\n" not in str(err.value)
