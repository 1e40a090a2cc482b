"""Storage settings → delta-rs options, Spark Hadoop settings, pyarrow filesystems.

Pure unit tests: no Spark, no network (constructing pyarrow filesystems sends nothing).
"""
from __future__ import annotations

import os

import pyarrow.fs as pafs
import pytest

from inferwatch.lake import storage as st

MINIO = {"AWS_ENDPOINT_URL": "http://localhost:9000", "AWS_ALLOW_HTTP": True,
         "AWS_ACCESS_KEY_ID": "minio", "AWS_SECRET_ACCESS_KEY": "minio123",
         "AWS_REGION": "us-east-1"}
ABFSS = "abfss://lake@acct1.dfs.core.windows.net/inferwatch/lake"


def s(mapping: dict | None = None) -> st.StorageSettings:
    return st.settings_from(mapping, environ={})


@pytest.mark.parametrize("uri, kind", [
    ("s3://b/p", "s3"), ("s3a://b/p", "s3"), ("S3A://b/p", "s3"),
    ("abfs://c@a.dfs.core.windows.net/p", "azure"), (ABFSS, "azure"),
    ("az://c/p", "azure"), ("adl://c/p", "azure"),
    ("gs://b/p", "gcs"), ("gcs://b/p", "gcs"),
    ("lake", "file"), ("/abs/lake", "file"), ("file:///abs/lake", "file"),
])
def test_scheme(uri, kind):
    assert st.scheme(uri) == kind


def test_unknown_scheme_one_line():
    with pytest.raises(ValueError, match="unsupported storage scheme 'hdfs'") as err:
        st.scheme("hdfs://nn/lake")
    assert "\n" not in str(err.value)


def test_file_values_win_over_environment_and_only_known_keys_are_read():
    env = {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "env-key", "HOME": "/root",
           "AWS_PROFILE": "dev"}
    got = st.settings_from({"aws_region": "us-east-2"}, environ=env)
    assert got.options == {"AWS_REGION": "us-east-2", "AWS_ACCESS_KEY_ID": "env-key"}


def test_empty_file_value_unsets_the_environment_value():
    got = st.settings_from({"AWS_SESSION_TOKEN": None}, environ={"AWS_SESSION_TOKEN": "old"})
    assert got.options == {}


def test_scalars_are_stringified():
    got = s({"AWS_ALLOW_HTTP": True, "AWS_REGION": 1, "aws_conditional_put": "etag",
             "AZURE_TENANT_ID": False})
    assert got.options == {"AWS_ALLOW_HTTP": "true", "AWS_REGION": "1",
                           "AWS_CONDITIONAL_PUT": "etag", "AZURE_TENANT_ID": "false"}


def test_unknown_key_refused_in_one_line():
    with pytest.raises(ValueError) as err:
        s({"AWS_REGION": "x", "aws_bucket": "b"})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("storage: unknown key 'aws_bucket'; known keys: AWS_REGION, ")
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message


def test_same_key_twice_in_different_case_refused():
    with pytest.raises(ValueError, match="AWS_REGION given twice"):
        s({"AWS_REGION": "a", "aws_region": "b"})


def test_non_scalar_value_refused():
    with pytest.raises(ValueError, match="AWS_REGION must be a string"):
        s({"AWS_REGION": ["a"]})


@pytest.mark.parametrize("uri, want", [
    ("s3a://b/lake", "s3://b/lake"), ("s3://b/lake", "s3://b/lake"),
    (ABFSS, ABFSS), ("gcs://b/lake", "gs://b/lake"), ("gs://b/lake", "gs://b/lake"),
    ("file:///data/lake", "/data/lake"), ("/data/lake", "/data/lake"),
])
def test_delta_uri(uri, want):
    assert st.delta_uri(uri) == want


def test_delta_uri_makes_relative_paths_absolute():
    assert st.delta_uri("lake") == os.path.join(os.getcwd(), "lake")


def test_spark_uri():
    both = s({"AZURE_STORAGE_ACCOUNT_NAME": "acct1"})
    assert st.spark_uri(both, "s3://b/lake") == "s3a://b/lake"
    assert st.spark_uri(both, "gcs://b/lake") == "gs://b/lake"
    assert st.spark_uri(both, "az://lake/inferwatch/lake") == ABFSS
    assert st.spark_uri(both, ABFSS) == ABFSS
    with pytest.raises(ValueError, match="az://lake/x needs AZURE_STORAGE_ACCOUNT_NAME"):
        st.spark_uri(s(), "az://lake/x")
    with pytest.raises(ValueError, match="needs AZURE_STORAGE_ACCOUNT_NAME"):
        st.arrow_kwargs(s({"AZURE_STORAGE_ACCOUNT_KEY": "k"}), "az://lake/x")


def test_delta_options_per_scheme():
    every = s({**MINIO, "AWS_CONDITIONAL_PUT": "etag", "AZURE_STORAGE_ACCOUNT_NAME": "acct1",
               "AZURE_STORAGE_ACCOUNT_KEY": "a2V5", "GOOGLE_SERVICE_ACCOUNT": "/k.json"})
    assert st.delta_options(every, "lake") is None
    assert st.delta_options(every, "file:///tmp/lake") is None
    assert st.delta_options(every, "s3a://b/lake") == {
        "AWS_ENDPOINT_URL": "http://localhost:9000", "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "minio", "AWS_SECRET_ACCESS_KEY": "minio123",
        "AWS_REGION": "us-east-1", "AWS_CONDITIONAL_PUT": "etag"}
    assert st.delta_options(every, ABFSS) == {"AZURE_STORAGE_ACCOUNT_NAME": "acct1",
                                             "AZURE_STORAGE_ACCOUNT_KEY": "a2V5"}
    assert st.delta_options(every, "gs://b/lake") == {"GOOGLE_SERVICE_ACCOUNT": "/k.json"}


def test_delta_options_s3_does_not_force_conditional_put():
    got = st.delta_options(s({"AWS_REGION": "eu-west-1"}), "s3://b/lake")
    assert got == {"AWS_REGION": "eu-west-1"}


def test_delta_options_refuses_the_removed_dynamodb_locking_provider():
    with pytest.raises(ValueError, match="AWS_S3_LOCKING_PROVIDER is not supported"):
        st.delta_options(s({"AWS_S3_LOCKING_PROVIDER": "dynamodb"}), "s3://b/lake")


def test_spark_conf_s3_endpoint_path_style_and_http():
    assert st.spark_conf(s(MINIO), "s3a://b/lake") == {
        "spark.hadoop.fs.s3a.access.key": "minio",
        "spark.hadoop.fs.s3a.secret.key": "minio123",
        "spark.hadoop.fs.s3a.endpoint": "http://localhost:9000",
        "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false"}


def test_spark_conf_s3_temporary_credentials():
    conf = st.spark_conf(s({"AWS_ACCESS_KEY_ID": "ASIA1", "AWS_SECRET_ACCESS_KEY": "sec",
                            "AWS_SESSION_TOKEN": "tok", "AWS_REGION": "eu-west-1"}), "s3://b/l")
    assert conf == {
        "spark.hadoop.fs.s3a.access.key": "ASIA1",
        "spark.hadoop.fs.s3a.secret.key": "sec",
        "spark.hadoop.fs.s3a.session.token": "tok",
        "spark.hadoop.fs.s3a.endpoint.region": "eu-west-1",
        "spark.hadoop.fs.s3a.aws.credentials.provider":
            "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"}


def test_spark_conf_azure_account_key_named_by_the_account():
    conf = st.spark_conf(s({"AZURE_STORAGE_ACCOUNT_KEY": "a2V5"}), ABFSS)
    assert conf == {"spark.hadoop.fs.azure.account.key.acct1.dfs.core.windows.net": "a2V5"}


def test_spark_conf_azure_account_from_settings_for_az_uri():
    conf = st.spark_conf(s({"AZURE_STORAGE_ACCOUNT_NAME": "acct2",
                            "AZURE_STORAGE_ACCOUNT_KEY": "a2V5"}), "az://lake/x")
    assert conf == {"spark.hadoop.fs.azure.account.key.acct2.dfs.core.windows.net": "a2V5"}


def test_spark_conf_azure_oauth_client_credentials():
    conf = st.spark_conf(s({"AZURE_CLIENT_ID": "app", "AZURE_CLIENT_SECRET": "pw",
                            "AZURE_TENANT_ID": "tid"}), ABFSS)
    host = "acct1.dfs.core.windows.net"
    assert conf == {
        f"spark.hadoop.fs.azure.account.auth.type.{host}": "OAuth",
        f"spark.hadoop.fs.azure.account.oauth.provider.type.{host}":
            "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider",
        f"spark.hadoop.fs.azure.account.oauth2.client.id.{host}": "app",
        f"spark.hadoop.fs.azure.account.oauth2.client.secret.{host}": "pw",
        f"spark.hadoop.fs.azure.account.oauth2.client.endpoint.{host}":
            "https://login.microsoftonline.com/tid/oauth2/token"}


def test_spark_conf_azure_sas_and_missing_pieces():
    conf = st.spark_conf(s({"AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x"}), ABFSS)
    assert conf == {
        "spark.hadoop.fs.azure.account.auth.type.acct1.dfs.core.windows.net": "SAS",
        "spark.hadoop.fs.azure.sas.fixed.token.acct1.dfs.core.windows.net": "sv=1&sig=x"}
    with pytest.raises(ValueError, match="AZURE_CLIENT_SECRET needs AZURE_TENANT_ID"):
        st.spark_conf(s({"AZURE_CLIENT_ID": "app", "AZURE_CLIENT_SECRET": "pw"}), ABFSS)
    with pytest.raises(ValueError, match="needs AZURE_STORAGE_ACCOUNT_NAME"):
        st.spark_conf(s({"AZURE_STORAGE_ACCOUNT_KEY": "k"}), "az://lake/x")
    with pytest.raises(ValueError, match="AZURE_STORAGE_ACCOUNT_NAME=other but"):
        st.spark_conf(s({"AZURE_STORAGE_ACCOUNT_NAME": "other",
                         "AZURE_STORAGE_ACCOUNT_KEY": "k"}), ABFSS)
    assert st.spark_conf(s(), ABFSS) == {}


def test_spark_conf_gcs_and_local():
    assert st.spark_conf(s({"GOOGLE_SERVICE_ACCOUNT": "/keys/sa.json"}), "gs://b/lake") == {
        "spark.hadoop.fs.gs.impl": "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem",
        "spark.hadoop.google.cloud.auth.service.account.json.keyfile": "/keys/sa.json",
        "spark.hadoop.google.cloud.auth.type": "SERVICE_ACCOUNT_JSON_KEYFILE"}
    assert st.spark_conf(s(MINIO), "lake") == {}


def test_arrow_kwargs_s3():
    assert st.arrow_kwargs(s(MINIO), "s3a://b/lake") == {
        "access_key": "minio", "secret_key": "minio123", "region": "us-east-1",
        "scheme": "http", "endpoint_override": "localhost:9000"}
    assert st.arrow_kwargs(s({"AWS_ENDPOINT_URL": "minio:9000", "AWS_ALLOW_HTTP": "true",
                              "AWS_SESSION_TOKEN": "tok"}), "s3://b") == {
        "session_token": "tok", "scheme": "http", "endpoint_override": "minio:9000"}
    assert st.arrow_kwargs(s(), "s3://b") == {}


def test_arrow_kwargs_azure_and_gcs():
    assert st.arrow_kwargs(s({"AZURE_STORAGE_ACCOUNT_KEY": "a2V5"}), ABFSS) == {
        "account_name": "acct1", "account_key": "a2V5"}
    assert st.arrow_kwargs(s({"AZURE_STORAGE_ACCOUNT_NAME": "acct2", "AZURE_CLIENT_ID": "app",
                              "AZURE_CLIENT_SECRET": "pw", "AZURE_TENANT_ID": "tid"}),
                           "az://lake/x") == {
        "account_name": "acct2", "client_id": "app", "client_secret": "pw", "tenant_id": "tid"}
    assert st.arrow_kwargs(s({"GOOGLE_SERVICE_ACCOUNT": "/k.json"}), "gs://b/lake") == {}


def test_arrow_filesystem_local():
    fs, path = st.arrow_filesystem(s(MINIO), "lake")
    assert isinstance(fs, pafs.LocalFileSystem)
    assert path == os.path.join(os.getcwd(), "lake")
    fs, path = st.arrow_filesystem(s(), "file:///data/lake")
    assert isinstance(fs, pafs.LocalFileSystem) and path == "/data/lake"


def test_arrow_filesystem_s3_and_azure_paths():
    fs, path = st.arrow_filesystem(s(MINIO), "s3a://bucket/inferwatch/lake/")
    assert isinstance(fs, pafs.S3FileSystem)
    assert fs.region == "us-east-1"
    assert path == "bucket/inferwatch/lake"
    fs, path = st.arrow_filesystem(s({"AZURE_STORAGE_ACCOUNT_KEY": "a2V5"}), ABFSS)
    assert isinstance(fs, pafs.AzureFileSystem)
    assert path == "lake/inferwatch/lake"


def test_arrow_filesystem_gcs_exports_the_key_file(monkeypatch):
    # set, then deleted: monkeypatch restores the variable's absence after the test (a
    # bare delenv of an absent variable records nothing, and the export below leaked into
    # every later test that reads storage settings from the environment)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "unset")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    fs, path = st.arrow_filesystem(s({"GOOGLE_SERVICE_ACCOUNT": "/k.json"}), "gcs://b/lake")
    assert isinstance(fs, pafs.GcsFileSystem)
    assert path == "b/lake"
    assert os.environ["GOOGLE_APPLICATION_CREDENTIALS"] == "/k.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/other.json")
    with pytest.raises(ValueError, match="pyarrow can use only one"):
        st.arrow_filesystem(s({"GOOGLE_SERVICE_ACCOUNT": "/k.json"}), "gs://b/lake")
