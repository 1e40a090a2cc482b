from __future__ import annotations

import pytest

from inferwatch.config import ConfigError, load_env
from inferwatch.model_config import load_models


def _write(path, text):
    path.write_text(text)
    return path


def test_repo_configs_load():
    env = load_env("conf/local.yaml")
    assert env.lake == "lake" and env.spark.shuffle_partitions >= 1
    models = load_models("conf/models")
    assert {"fraud", "eta"} <= set(models)
    assert models["fraud"].problem_type == "binary_classification"
    assert models["fraud"].threshold is not None and models["eta"].threshold is None


def test_overrides_win(tmp_path):
    env = load_env("conf/local.yaml", lake=str(tmp_path / "x"), models_dir=tmp_path)
    assert env.lake == str(tmp_path / "x") and env.models_dir == tmp_path


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("model_id: ../etc\nproblem_type: regression\n", "model_id", "[A-Za-z0-9_.-]+"),
        ("model_id: m\nproblem_type: ranking\n", "problem_type", "one of"),
        # YAML's true is no number, though Python's bool is an int
        ("model_id: m\nproblem_type: binary_classification\nthreshold: true\n", "threshold",
         "an int or float"),
        ("model_id: m\nproblem_type: binary_classification\nthreshold: 3\n", "threshold",
         "between 0 and 1"),
        ("model_id: m\nproblem_type: regression\nfeatures: {numeric: amount}\n", "numeric",
         "a list of non-empty strings"),
        ("model_id: m\nproblem_type: regression\nfeatures: {numeric: [a], categorical: [a]}\n",
         "features", "each feature listed once"),
        ("model_id: m\nproblem_type: regression\nslices: [1]\n", "slices", "list of non-empty"),
        ("model_id: m\nproblem_type: regression\nclasses: [a, b]\n", "classes",
         "multiclass_classification"),
        ("model_id: m\nproblem_type: multiclass_classification\nclasses: [a, a]\n", "classes",
         "distinct"),
        ("model_id: m\nproblem_type: regression\nbaseline: {window: [2026-03-02]}\n", "baseline",
         "{window: [start, end]}"),
        ("model_id: m\nproblem_type: regression\nbaseline: {window: [x, y]}\n",
         "baseline.window", "two ISO times"),
        ("model_id: m\nproblem_type: regression\n"
         "baseline: {window: ['2026-03-03', '2026-03-02']}\n", "baseline.window", "start before end"),
        ("model_id: m\nproblem_type: regression\nquality: {suite_file: a.yaml}\n",
         "quality.suite_file", "one of suite, baseline"),
        ("model_id: m\nproblem_type: regression\nquality: {suggest: maybe}\n",
         "quality.suggest", "a bool"),
        ("model_id: m\nproblem_type: regression\nquality: {max_duplicate_rate: 5}\n",
         "quality.max_duplicate_rate", "a rate between 0 and 1"),
        ("model_id: m\nproblem_type: regression\nquality: {expectations: [{kwargs: {}}]}\n",
         "quality.expectations[0]", "type: expect_"),
        ("- just a list\n", "<top level>", "a mapping"),
        ("model_id: [unclosed\n", "<file>", "valid YAML"),
    ],
)
def test_model_errors_name_file_key_and_expectation(tmp_path, text, key, expected):
    path = _write(tmp_path / "m.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_models(tmp_path)
    message = str(err.value)
    assert str(path) in message and f"'{key}'" in message and expected in message


def test_duplicate_model_ids_refused(tmp_path):
    _write(tmp_path / "a.yaml", "model_id: m\nproblem_type: regression\n")
    _write(tmp_path / "b.yaml", "model_id: m\nproblem_type: regression\n")
    with pytest.raises(ConfigError, match="no other file uses"):
        load_models(tmp_path)


def test_env_errors(tmp_path):
    path = _write(tmp_path / "env.yaml", "lake: 3\n")
    with pytest.raises(ConfigError, match=r"env.yaml: key 'lake': expected a str"):
        load_env(path)
    path = _write(tmp_path / "env.yaml", "spark: {shuffle_partitions: true}\n")
    with pytest.raises(ConfigError, match="'shuffle_partitions': expected an int"):
        load_env(path)
    path = _write(tmp_path / "env.yaml", "spark: {shuffle_partitions: 0}\n")
    with pytest.raises(ConfigError, match="shuffle_partitions"):
        load_env(path)
    with pytest.raises(ConfigError, match="an existing YAML file"):
        load_env(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="folder of"):
        load_models(tmp_path / "nope")


def test_baseline_window_is_utc(tmp_path):
    _write(tmp_path / "m.yaml", "model_id: m\nproblem_type: regression\n"
           "baseline: {window: ['2026-03-02T00:00:00Z', '2026-03-03 02:00:00+02:00']}\n")
    start, end = load_models(tmp_path)["m"].baseline["window"]
    assert (start.isoformat(), end.isoformat()) == (
        "2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00")


@pytest.mark.parametrize("text, message", [
    ("storage: {aws_regoin: eu-west-1}\n", r"key 'storage'.*unknown key 'aws_regoin'"),
    ("storage: {AWS_S3_LOCKING_PROVIDER: dynamodb}\n", "AWS_S3_LOCKING_PROVIDER is not supported"),
    ("lake: abfss://c/lake\nstorage: {AZURE_CLIENT_SECRET: s, AZURE_STORAGE_ACCOUNT_NAME: a}\n",
     "needs AZURE_CLIENT_ID, AZURE_TENANT_ID"),
    ("maintain: {target_file_mb: 0}\n", r"maintain.target_file_mb': expected a number > 0"),
])
def test_storage_and_maintain_settings_are_checked_at_load(tmp_path, text, message):
    body = text if text.startswith("lake") else "lake: s3://bucket/lake\n" + text
    with pytest.raises(ConfigError, match=message):
        load_env(_write(tmp_path / "env.yaml", body))


def test_storage_settings_reach_every_engine(tmp_path):
    from inferwatch.lake.storage import delta_options, spark_conf

    env = load_env(_write(tmp_path / "env.yaml", "lake: s3a://bucket/lake\nstorage:\n"
                          "  AWS_REGION: eu-west-1\n  AWS_ENDPOINT_URL: http://127.0.0.1:9000\n"
                          "maintain: {target_file_mb: 64, vacuum_retention_hours: 24}\n"))
    assert delta_options(env.storage, env.lake)["AWS_REGION"] == "eu-west-1"
    assert spark_conf(env.storage, env.lake)["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert (env.target_file_mb, env.vacuum_retention_hours) == (64.0, 24.0)


def test_a_bad_suite_file_is_one_config_error(tmp_path):
    from inferwatch.quality.suite import read_suite

    bad = _write(tmp_path / "suite.yaml", "expectations: [{type: not_an_expectation}]\n")
    with pytest.raises(ConfigError, match=r"suite.yaml: key 'expectations\[0\]'.*expect_"):
        read_suite(bad)
    with pytest.raises(ConfigError, match="an existing suite file"):
        read_suite(tmp_path / "missing.yaml")


HOSTILE_SLICES = [
    "reflect('java.lang.System', 'getProperty', 'java.home')",
    "java_method('java.lang.System', 'getenv', 'HOME')",
    "(SELECT first(value) FROM text.`/etc/hostname`)",
    "country IN (SELECT value FROM text.`/etc/hostname`)",
    "text.`/etc/hostname`",
    "read_files('/etc/hostname')",
    "transform(array(amount), x -> x + 1)",
    "no_such_function(country)",
    "my_registered_udf(country)",
    "count(*)",
    "rank() OVER (ORDER BY amount)",
    "lower(country) OVER (PARTITION BY country)",
    "explode(array(country))",
    "`reflect`('java.lang.System', 'getProperty', 'java.home')",
    "country; DROP TABLE inferences",
    "country -- a comment hiding nothing",
    "concat(country, reflect('java.lang.System', 'getProperty', 'java.home'))",
]


def _model_file(tmp_path, **keys):
    import yaml

    data = {"model_id": "m", "problem_type": "binary_classification", **keys}
    return _write(tmp_path / "m.yaml", yaml.safe_dump(data))


@pytest.mark.parametrize("text", HOSTILE_SLICES)
@pytest.mark.parametrize("key", ["slices", "protected"])
def test_hostile_slice_and_protected_expressions_are_refused_at_load(tmp_path, key, text):
    path = _model_file(tmp_path, **{key: ["country", text]})
    with pytest.raises(ConfigError) as err:
        load_models(tmp_path)
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"{path}: key '{key}[1]': expected a slice expression")
    assert text in message


def test_legitimate_slices_load_as_checked_parse_trees(tmp_path):
    from tests.metrics.test_slices import LEGITIMATE

    _model_file(tmp_path, slices=LEGITIMATE, protected=["gender", "`home country`"])
    model = load_models(tmp_path)["m"]
    assert model.slices == tuple(LEGITIMATE)  # as written: they are the rows' slice_key
    assert list(model.expressions) == LEGITIMATE
    assert model.protected == ("gender", "home country")


def test_protected_attributes_are_columns(tmp_path):
    path = _model_file(tmp_path, protected=["lower(gender)"])
    with pytest.raises(ConfigError, match=rf"{path}: key 'protected\[0\]'.*a column name"):
        load_models(tmp_path)
