"""Object-storage settings of an environment, in each engine's form.

One `storage:` mapping (delta-rs/object_store key names) becomes delta-rs `storage_options`,
Spark `spark.hadoop.*` settings (S3A, ABFS, GCS connector) and a pyarrow filesystem.
See docs/storage.md for what a user sets and which guarantees hold on each store.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

KNOWN_KEYS = (
    "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_ALLOW_HTTP", "AWS_S3_LOCKING_PROVIDER", "AWS_CONDITIONAL_PUT",
    "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID",
    "GOOGLE_SERVICE_ACCOUNT", "GOOGLE_APPLICATION_CREDENTIALS",
)
_SCHEMES = {"s3": "s3", "s3a": "s3", "abfs": "azure", "abfss": "azure", "az": "azure",
            "adl": "azure", "gs": "gcs", "gcs": "gcs", "file": "file"}
_PREFIX = {"s3": "AWS_", "azure": "AZURE_", "gcs": "GOOGLE_"}
_TRUE = {"true", "1", "yes", "on"}
_H = "spark.hadoop."


@dataclass(frozen=True)
class StorageSettings:
    """User-given storage options, keys upper case in delta-rs/object_store spelling."""

    options: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.options.get(key)

    def flag(self, key: str) -> bool:
        return (self.options.get(key) or "").strip().lower() in _TRUE


def _text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"storage: {key} must be a string, number or boolean, not "
                     f"{type(value).__name__}")


def settings_from(mapping: Mapping[str, Any] | None,
                  environ: Mapping[str, str] | None = None) -> StorageSettings:
    """The file's `storage:` mapping over the environment variables of the known keys.

    Keys are case-insensitive; an unknown key raises ValueError. An empty value in the file
    unsets the key (the environment's value too).
    """
    env = os.environ if environ is None else environ
    options = {k: env[k] for k in KNOWN_KEYS if env.get(k)}
    if mapping is not None and not isinstance(mapping, Mapping):
        raise ValueError(f"storage: must be a mapping, not {type(mapping).__name__}")
    seen: set[str] = set()
    for raw_key, value in (mapping or {}).items():
        key = str(raw_key).upper()
        if key not in KNOWN_KEYS:
            raise ValueError(f"storage: unknown key {raw_key!r}; known keys: "
                             f"{', '.join(KNOWN_KEYS)}")
        if key in seen:
            raise ValueError(f"storage: key {key} given twice (keys are case-insensitive)")
        seen.add(key)
        if value is None or value == "":
            options.pop(key, None)
        else:
            options[key] = _text(key, value)
    return StorageSettings(options)


def scheme(uri: str) -> str:
    """The kind of store of a table location: "file", "s3", "azure" or "gcs"."""
    if "://" not in uri:
        return "file"
    name = uri.split("://", 1)[0].lower()
    if name not in _SCHEMES:
        raise ValueError(f"unsupported storage scheme {name!r} in {uri!r}; use s3://, s3a://, "
                         "abfss://, abfs://, az://, adl://, gs://, gcs://, file:// or a path")
    return _SCHEMES[name]


def _local_path(uri: str) -> str:
    return os.path.abspath(urlsplit(uri).path if uri.startswith("file:") else uri)


def _bucket_path(uri: str) -> tuple[str, str]:
    """(bucket or container, path inside it) of an object-store URI."""
    parts = urlsplit(uri)
    return parts.netloc.split("@", 1)[0], parts.path.strip("/")


def _azure_account(settings: StorageSettings, uri: str) -> str:
    """The storage account: from `container@account.dfs.core.windows.net`, else the settings."""
    netloc = urlsplit(uri).netloc
    given = settings.get("AZURE_STORAGE_ACCOUNT_NAME")
    if "@" not in netloc:
        if not given:
            raise ValueError(f"storage: {uri} needs AZURE_STORAGE_ACCOUNT_NAME")
        return given
    account = netloc.split("@", 1)[1].split(".", 1)[0]
    if given and given != account:
        raise ValueError(f"storage: AZURE_STORAGE_ACCOUNT_NAME={given} but {uri} names "
                         f"account {account}")
    return account


def delta_uri(uri: str) -> str:
    """The location as delta-rs wants it: s3a:// → s3://, gcs:// → gs://, paths absolute."""
    kind = scheme(uri)
    if kind == "file":
        return _local_path(uri)
    name, rest = uri.split("://", 1)
    return {"s3a": "s3", "gcs": "gs"}.get(name.lower(), name) + "://" + rest


def spark_uri(settings: StorageSettings, uri: str) -> str:
    """The location as Hadoop wants it: s3a://, gs://, abfss://container@account.dfs..."""
    kind = scheme(uri)
    if kind == "s3":
        return "s3a://" + uri.split("://", 1)[1]
    if kind == "gcs":
        return "gs://" + uri.split("://", 1)[1]
    if kind == "azure" and "@" not in urlsplit(uri).netloc:
        account = _azure_account(settings, uri)
        container, path = _bucket_path(uri)
        return f"abfss://{container}@{account}.dfs.core.windows.net/{path}".rstrip("/")
    return uri


def delta_options(settings: StorageSettings, uri: str) -> dict[str, str] | None:
    """`storage_options` for delta-rs: None for a local path, else this scheme's keys."""
    kind = scheme(uri)
    if kind == "file":
        return None
    if kind == "s3" and settings.get("AWS_S3_LOCKING_PROVIDER"):
        # deltalake >= 1.6.1 removed the S3DynamoDbLogStore: it logs an error and commits
        # with conditional put (If-None-Match) as if the key were absent.
        raise ValueError("storage: AWS_S3_LOCKING_PROVIDER is not supported by deltalake "
                         ">= 1.6.1; commits on S3 use conditional put (AWS_CONDITIONAL_PUT, "
                         "default etag); remove the key (see docs/storage.md)")
    return {k: v for k, v in settings.options.items() if k.startswith(_PREFIX[kind])}


def spark_conf(settings: StorageSettings, uri: str) -> dict[str, str]:
    """`spark.hadoop.*` settings for Spark's Parquet I/O on the location's store."""
    kind, get, conf = scheme(uri), settings.get, {}
    if kind == "s3":
        s3a = _H + "fs.s3a."
        for key, name in (("AWS_ACCESS_KEY_ID", "access.key"), ("AWS_SECRET_ACCESS_KEY",
                          "secret.key"), ("AWS_SESSION_TOKEN", "session.token"),
                          ("AWS_ENDPOINT_URL", "endpoint"), ("AWS_REGION", "endpoint.region")):
            if get(key):
                conf[s3a + name] = get(key)
        if get("AWS_ENDPOINT_URL"):
            conf[s3a + "path.style.access"] = "true"
        if settings.flag("AWS_ALLOW_HTTP"):
            conf[s3a + "connection.ssl.enabled"] = "false"
        if get("AWS_SESSION_TOKEN"):
            conf[s3a + "aws.credentials.provider"] = (
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider")
    elif kind == "azure":
        secrets = ("AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET")
        if not any(get(k) for k in secrets):
            return {}  # default credentials of the cluster
        host = f"{_azure_account(settings, uri)}.dfs.core.windows.net"
        if get("AZURE_STORAGE_ACCOUNT_KEY"):
            conf[f"{_H}fs.azure.account.key.{host}"] = get("AZURE_STORAGE_ACCOUNT_KEY")
        elif get("AZURE_STORAGE_SAS_TOKEN"):
            conf[f"{_H}fs.azure.account.auth.type.{host}"] = "SAS"
            conf[f"{_H}fs.azure.sas.fixed.token.{host}"] = get("AZURE_STORAGE_SAS_TOKEN")
        else:
            missing = [k for k in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID") if not get(k)]
            if missing:
                raise ValueError(f"storage: AZURE_CLIENT_SECRET needs {', '.join(missing)}")
            a = f"{_H}fs.azure.account."
            conf[f"{a}auth.type.{host}"] = "OAuth"
            conf[f"{a}oauth.provider.type.{host}"] = (
                "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider")
            conf[f"{a}oauth2.client.id.{host}"] = get("AZURE_CLIENT_ID")
            conf[f"{a}oauth2.client.secret.{host}"] = get("AZURE_CLIENT_SECRET")
            conf[f"{a}oauth2.client.endpoint.{host}"] = (
                f"https://login.microsoftonline.com/{get('AZURE_TENANT_ID')}/oauth2/token")
    elif kind == "gcs":
        conf[_H + "fs.gs.impl"] = "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem"
        keyfile = get("GOOGLE_SERVICE_ACCOUNT") or get("GOOGLE_APPLICATION_CREDENTIALS")
        if keyfile:
            conf[_H + "google.cloud.auth.service.account.json.keyfile"] = keyfile
            # gcs-connector >= 3.0 reads the keyfile only with this type; 2.x ignores it
            conf[_H + "google.cloud.auth.type"] = "SERVICE_ACCOUNT_JSON_KEYFILE"
    return conf


def arrow_kwargs(settings: StorageSettings, uri: str) -> dict[str, Any]:
    """Keyword arguments of the pyarrow filesystem for the location's store."""
    kind, get = scheme(uri), settings.get
    if kind == "s3":
        kwargs: dict[str, Any] = {
            "access_key": get("AWS_ACCESS_KEY_ID"), "secret_key": get("AWS_SECRET_ACCESS_KEY"),
            "session_token": get("AWS_SESSION_TOKEN"), "region": get("AWS_REGION")}
        endpoint = get("AWS_ENDPOINT_URL")
        if endpoint and "://" in endpoint:
            kwargs["scheme"], endpoint = endpoint.split("://", 1)
        elif settings.flag("AWS_ALLOW_HTTP"):
            kwargs["scheme"] = "http"
        kwargs["endpoint_override"] = endpoint.rstrip("/") if endpoint else None
        return {k: v for k, v in kwargs.items() if v is not None}
    if kind == "azure":
        kwargs = {"account_name": _azure_account(settings, uri),
                  "account_key": get("AZURE_STORAGE_ACCOUNT_KEY"),
                  "sas_token": get("AZURE_STORAGE_SAS_TOKEN"),
                  "client_id": get("AZURE_CLIENT_ID"),
                  "client_secret": get("AZURE_CLIENT_SECRET"), "tenant_id": get("AZURE_TENANT_ID")}
        return {k: v for k, v in kwargs.items() if v is not None}
    return {}  # gcs: pyarrow takes no key file, only GOOGLE_APPLICATION_CREDENTIALS


def arrow_filesystem(settings: StorageSettings, uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the location's path inside it (`bucket/path` on stores).

    GCS: pyarrow reads a key file only from GOOGLE_APPLICATION_CREDENTIALS, so a key file
    from the settings is exported to this process's environment (a different value already
    there raises ValueError rather than being overwritten).
    """
    kind = scheme(uri)
    if kind == "file":
        return pafs.LocalFileSystem(), _local_path(uri)
    bucket, path = _bucket_path(uri)
    inside = f"{bucket}/{path}".rstrip("/")
    if kind == "s3":
        return pafs.S3FileSystem(**arrow_kwargs(settings, uri)), inside
    if kind == "azure":
        return pafs.AzureFileSystem(**arrow_kwargs(settings, uri)), inside
    keyfile = settings.get("GOOGLE_SERVICE_ACCOUNT") or settings.get(
        "GOOGLE_APPLICATION_CREDENTIALS")
    current = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if keyfile and current and current != keyfile:
        raise ValueError(f"storage: key file {keyfile} but GOOGLE_APPLICATION_CREDENTIALS="
                         f"{current} in the environment; pyarrow can use only one")
    if keyfile:
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = keyfile
    return pafs.GcsFileSystem(), inside
