"""Object-store endpoints answer (TCP, then any HTTP answer) for non-filesystem storage.

Filesystem storage is checked on the nodes themselves (``hosts.shared_registry``).
"""

from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlsplit

from harbor_wizard.answers.model import Storage
from harbor_wizard.checks.result import CheckResult, error, ok, probe
from harbor_wizard.connection import tcp_reachable


def endpoint(storage: Storage) -> str | None:
    """The URL the registry's storage driver talks to, from its settings."""
    config = {key: str(value) for key, value in storage.config.items()}
    provider = storage.provider
    if provider == "s3":
        if "regionendpoint" in config:
            return config["regionendpoint"]
        return f"https://s3.{config.get('region', 'us-east-1')}.amazonaws.com"
    if provider == "swift":
        return config.get("authurl")
    if provider == "azure":
        realm = config.get("realm", "core.windows.net")
        return f"https://{config.get('accountname', '')}.blob.{realm}"
    if provider == "gcs":
        return "https://storage.googleapis.com"
    if provider == "oss":
        if "endpoint" in config:
            host = config["endpoint"]
            return host if "://" in host else f"https://{host}"
        return f"https://oss-{config.get('region', '').removeprefix('oss-')}.aliyuncs.com"
    return None


@probe("storage.endpoint")
def check(storage: Storage, timeout: float = 5.0) -> list[CheckResult]:
    url = endpoint(storage)
    if url is None:
        return []
    parts = urlsplit(url)
    if not parts.hostname:
        return [
            error(
                "storage.endpoint",
                "storage",
                f"cannot tell the {storage.provider} endpoint from '{url}'",
                field_path="storage.config",
            )
        ]
    secure = parts.scheme != "http"
    port = parts.port or (443 if secure else 80)
    why = tcp_reachable(parts.hostname, port, timeout)
    if why is not None:
        return [
            error(
                "storage.endpoint",
                "storage",
                f"{storage.provider} endpoint {parts.hostname}:{port}: {why}",
                field_path="storage.config",
            )
        ]
    conn: http.client.HTTPConnection = (
        http.client.HTTPSConnection(
            parts.hostname, port, timeout=timeout, context=ssl.create_default_context()
        )
        if secure
        else http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    )
    try:
        conn.request("GET", parts.path or "/")
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return [
            error(
                "storage.endpoint",
                "storage",
                f"{storage.provider} endpoint {url} gave no HTTP answer: {exc}",
                field_path="storage.config",
            )
        ]
    finally:
        conn.close()
    return [
        ok(
            "storage.endpoint",
            "storage",
            f"{storage.provider} endpoint {url} answers (HTTP {status})",
        )
    ]
