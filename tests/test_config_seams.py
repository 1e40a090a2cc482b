"""Config at the seams: a vacuum retention that would delete the files of writes in
progress is refused at load, and a mistyped webhook URL is never echoed whole."""
from __future__ import annotations

import pytest

from inferwatch.config import ConfigError, load_env
from inferwatch.errors import one_line
from inferwatch.model_config import load_models

TOKEN = "T0AAAA/B0BBBB/XyZsEcReTtOkEn"


@pytest.mark.parametrize("hours", [0, 1, 23.5])  # 24 loads: tests/test_config.py
def test_a_vacuum_retention_under_a_day_is_refused_in_one_line(tmp_path, hours):
    path = tmp_path / "env.yaml"
    path.write_text(f"maintain: {{vacuum_retention_hours: {hours}}}\n")
    with pytest.raises(ConfigError) as refused:
        load_env(path)
    message = str(refused.value)
    assert one_line(message) == message
    assert message.startswith(f"{path}: key 'maintain.vacuum_retention_hours': expected a "
                              "number of hours >= 24"), message
    assert message.endswith(f", got {hours!r}"), message


@pytest.mark.parametrize("url, shown", [
    (f"htps://hooks.slack.com/services/{TOKEN}", "htps://hooks.slack.com/***"),
    (f"hooks.slack.com/services/{TOKEN}", "hooks.slack.com/***"),
    (f"https:/hooks.slack.com/services/{TOKEN}?x=1", "https:/hooks.slack.com/***"),
])
def test_a_mistyped_webhook_url_keeps_only_its_scheme_and_host(tmp_path, monkeypatch, url,
                                                                shown):
    monkeypatch.delenv("INFERWATCH_WEBHOOK_URL", raising=False)
    path = tmp_path / "env.yaml"
    path.write_text(f"alerts: {{webhook_url: '{url}'}}\n")
    with pytest.raises(ConfigError) as refused:
        load_env(path)
    message = str(refused.value)
    assert "key 'alerts.webhook_url': expected an http:// or https:// URL" in message
    assert message.endswith(f"got {shown!r}"), message
    assert "XyZsEcReT" not in message and "services" not in message

    monkeypatch.setenv("INFERWATCH_WEBHOOK_URL", url)  # the same from the environment
    path.write_text("lake: lake\n")
    with pytest.raises(ConfigError) as refused:
        load_env(path)
    message = str(refused.value)
    assert message.endswith(f"got {shown!r}") and "XyZsEcReT" not in message, message


def test_a_models_mistyped_webhook_is_masked_too(tmp_path):
    (tmp_path / "m.yaml").write_text("model_id: m\nproblem_type: regression\n"
                                     f"alerts: {{webhook: 'hooks.example/{TOKEN}'}}\n")
    from inferwatch.alerts.settings import settings

    with pytest.raises(ConfigError) as refused:
        settings(load_models(tmp_path)["m"])
    assert "alerts.webhook" in str(refused.value)
    assert str(refused.value).endswith("got 'hooks.example/***'"), str(refused.value)
