"""Secrets are never printed whole: what an error or a log line would show of a webhook
URL or a storage key.

A webhook URL keeps its scheme and host and loses its path and query, where Slack-style
hooks carry their token (`https://hooks.slack.com/services/***`); a lake URI (`s3://`,
`abfss://`, `gs://`, ...) keeps its path, which names no secret, and loses a query
string and a password; the values of the secret storage keys and of
`INFERWATCH_WEBHOOK_URL` (from the environment, and those a loaded config file gave) are
masked wherever they appear. The CLI's error lines, its tracebacks and its log lines go
through `redact`.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping

MASK = "***"
# storage keys whose values are credentials (inferwatch.lake.storage.KNOWN_KEYS)
SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
               "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET")
WEBHOOK_ENV = "INFERWATCH_WEBHOOK_URL"
# lake URI schemes: their paths are table locations, shown as they are
STORAGE_SCHEMES = ("s3", "s3a", "abfs", "abfss", "az", "adl", "gs", "gcs", "file")
# config keys whose values are secret: the last part of a dotted key
SECRET_KEY_NAME = re.compile(r"(webhook|secret|token|password|account_key|access_key)",
                             re.IGNORECASE)
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://[^\s'\"<>()\[\]{},]+")
_PARTS = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*:/*)?(?P<user>[^/?#@]*@)?"
                    r"(?P<host>[^/?#]*)(?P<rest>.*)$", re.DOTALL)
_MIN_SECRET = 4  # shorter values are masked only as whole config values, not in text
_remembered: set[str] = set()


def redact_url(url: str) -> str:
    """`scheme://host/***`: a URL (or what was meant as one) without its path, query and
    user info. `redact_url("https://hooks.slack.com/services/T0/B0/x")` is
    `"https://hooks.slack.com/***"`."""
    parts = _PARTS.match(str(url))
    if parts is None:  # pragma: no cover - the pattern matches every string
        return MASK
    user = f"{MASK}@" if parts["user"] else ""
    rest = f"/{MASK}" if parts["rest"] else ""
    return f"{parts['scheme'] or ''}{user}{parts['host']}{rest}"


def redact_value(key: str, value: object) -> object:
    """A config value as an error may show it: keys named like secrets (`webhook`,
    `*_secret`, `*_token`, ...) keep no more than a URL's scheme and host."""
    if not isinstance(value, str):
        return value
    if SECRET_KEY_NAME.search(key.rsplit(".", 1)[-1]):
        return redact_url(value) if "webhook" in key.lower() else MASK
    return redact(value)


def remember(values: Iterable[str | None]) -> None:
    """Secrets a loaded config holds (storage keys, the webhook URL): masked from now on
    in this process, wherever they appear."""
    _remembered.update(v for v in values if v and len(v) >= _MIN_SECRET)


def secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """The secret values of the environment and of the configs loaded so far."""
    env = os.environ if environ is None else environ
    found = {env.get(k) or "" for k in (*SECRET_KEYS, WEBHOOK_ENV)}
    return {v for v in found | _remembered if len(v) >= _MIN_SECRET}


def _url(match: re.Match) -> str:
    url = match.group(0)
    if match.group(1).lower() not in STORAGE_SCHEMES:
        return redact_url(url)
    # a password in user info (`abfss://container@account` names no secret)
    url = re.sub(r"(://[^/?#@:]*):[^/?#@]*@", rf"\1:{MASK}@", url)
    return re.sub(r"[?#].*$", f"?{MASK}", url)  # SAS tokens and the like ride in the query


def redact(text: str, extra: Iterable[str] = (),
           environ: Mapping[str, str] | None = None) -> str:
    """`text` with every URL redacted as the module docstring says and every known secret
    (and each of `extra`) masked."""
    text = _URL.sub(_url, str(text))
    for secret in sorted(secrets(environ) | {e for e in extra if len(e or '') >= _MIN_SECRET}, key=len, reverse=True):
        if secret.startswith(("http://", "https://")):
            text = text.replace(secret, redact_url(secret))
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's message (arguments merged in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
