"""Pushing a profile to a Pyroscope-compatible server (Grafana Pyroscope, Grafana Cloud Profiles, Alloy's
``pyroscope.receive_http``): the ``POST /ingest`` HTTP API with the pprof export as its ``profile`` part.

The query names the application (``name=APP{label=value,...}``), the time the profile covers (``from``
and ``until``, Unix seconds), ``format=pprof``, the sample rate of a CPU profile in Hz and
``spyName=cdpclient``. The URL's user and password go as basic authentication; ``token`` as a bearer
token (in their place, when both are given); ``tenant`` as ``X-Scope-OrgID`` (multi-tenant servers).
The token and password are never part of an error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cdpclient.errors import CDPClientError, UsageError

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class PushError(CDPClientError):
    """The server could not be reached, or it refused the profile (``status``: its HTTP status, or None)."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


@dataclass(frozen=True)
class PushResult:
    """Where the profile went and what the server said."""

    url: str        # the ingest URL, without credentials
    name: str       # the application name with its labels, as sent
    status: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "name": self.name, "status": self.status, "bytes": self.bytes}


def ingest_url(server: str) -> tuple[str, tuple[str, str] | None]:
    """``server`` (``http://host:4040``, or a full ``.../ingest`` URL) as the ingest URL without credentials,
    and the user and password it carried, if any. Raises UsageError for anything but http(s)."""
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{{push}} {server!r} is not an http(s) URL of a Pyroscope server", options=("push",))
    auth = (parts.username or "", parts.password or "") if parts.username else None
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    path = parts.path.rstrip("/")
    if not path.endswith("/ingest"):
        path += "/ingest"
    return urlunsplit((parts.scheme, netloc, path, "", "")), auth


def app_name(app: str, labels: dict[str, str]) -> str:
    """``app{key=value,...}``: Pyroscope's application name with labels. Raises UsageError for a label
    key Pyroscope would refuse, or braces, commas or '=' in a value."""
    if not app or any(c in app for c in "{},= "):
        raise UsageError(f"{{app}} {app!r}: an application name without spaces, braces, commas or '='",
                         options=("app",))
    for key, value in labels.items():
        if not _LABEL.match(key) or any(c in value for c in "{},="):
            raise UsageError(f"label {key}={value}: keys are letters, digits, '_' and '.'; values have no "
                             "braces, commas or '='")
    tags = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return f"{app}{{{tags}}}" if tags else app


async def push_pprof(data: bytes, server: str, *, app: str, labels: dict[str, str] | None = None,
                     start: float, end: float, sample_rate: int | None = None, tenant: str | None = None,
                     token: str | None = None, timeout: float = 30.0) -> PushResult:
    """POST the gzipped pprof ``data`` to ``server``'s ingest API (see the module's docstring).

    Raises :class:`PushError` when the server cannot be reached or answers other than 2xx, and
    :class:`~cdpclient.errors.UsageError` for a bad URL, application name or label.
    """
    import aiohttp

    url, auth = ingest_url(server)
    name = app_name(app, labels or {})
    params = {"name": name, "from": str(int(start)), "until": str(max(int(start), int(end + 0.999))),
              "format": "pprof", "spyName": "cdpclient"}
    if sample_rate:
        params["sampleRate"] = str(sample_rate)
    headers = {"User-Agent": "cdpclient"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if tenant:
        headers["X-Scope-OrgID"] = tenant
    form = aiohttp.FormData()
    form.add_field("profile", data, filename="profile.pprof", content_type="application/octet-stream")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.post(url, params=params, data=form, headers=headers,
                             auth=aiohttp.BasicAuth(*auth) if auth and not token else None) as reply:
            body = (await reply.text(errors="replace")).strip()
            if not 200 <= reply.status < 300:
                said = body.splitlines()[0][:200] if body else reply.reason or ""
                raise PushError(f"{url} refused the profile: HTTP {reply.status}{': ' + said if said else ''}",
                                url=url, status=reply.status)
            return PushResult(url=url, name=name, status=reply.status, bytes=len(data))
    except aiohttp.ClientError as exc:
        raise PushError(f"cannot push to {url}: {exc.__class__.__name__}: {exc}", url=url) from exc
    except TimeoutError as exc:
        raise PushError(f"cannot push to {url}: no answer in {timeout:g} s", url=url) from exc
