"""Upload a bundle to an InvenioRDM instance (the BIG-MAP Archive) through its REST API. No Dagster.

The calls, in order (InvenioRDM's records and draft-files API):

1. ``POST /api/records`` with the bundle's ``metadata.json``: a draft, ``201`` with its ``id``;
2. ``POST /api/records/{id}/draft/files`` with ``[{"key": name}, ...]``: the files announced;
3. per file ``PUT .../draft/files/{key}/content`` (the bytes, ``application/octet-stream``), then
   ``POST .../draft/files/{key}/commit``;
4. ``POST /api/records/{id}/draft/actions/publish`` (unless the draft is to stay a draft).

Every request carries ``Authorization: Bearer <token>``. The record is validated first
(``invenio.record_problems``); an invalid one is never sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

import requests

from .bundle import Bundle

URL_VARIABLE = "BIGMAP_ARCHIVE_URL"
TOKEN_VARIABLE = "BIGMAP_ARCHIVE_TOKEN"
TIMEOUT_SECOND = 60.0


class UploadError(ValueError):
    """The instance refused a call: which call, its HTTP status and what the instance said."""


@dataclass(frozen=True)
class Uploaded:
    record_id: str
    published: bool
    link: str  # the record's (or draft's) page as the instance names it


def from_environment() -> tuple[str, str]:
    """(instance URL, token) from ``$BIGMAP_ARCHIVE_URL`` and ``$BIGMAP_ARCHIVE_TOKEN``; ValueError naming the
    missing one."""
    url, token = os.environ.get(URL_VARIABLE, "").strip(), os.environ.get(TOKEN_VARIABLE, "").strip()
    for name, value in ((URL_VARIABLE, url), (TOKEN_VARIABLE, token)):
        if not value:
            raise ValueError(f"{name} is not set: export the archive's URL and a personal access token")
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"{URL_VARIABLE} {url!r} is not an http(s) URL")
    return url.rstrip("/"), token


def upload(bundle: Bundle, base_url: str, token: str, *, publish: bool = True,
           session: requests.Session | None = None) -> Uploaded:
    """Create a draft from the bundle's record, upload its files and publish it (or leave the draft)."""
    if bundle.problems:
        raise ValueError(f"{bundle.folder}: record not valid: {bundle.problems[0]}")
    http = session or requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    api = f"{base_url.rstrip('/')}/api/records"
    draft = _call(http, "POST", api, "create the draft", headers=headers, json=bundle.record)
    record_id = draft["id"]
    files_url = f"{api}/{quote(record_id)}/draft/files"
    _call(http, "POST", files_url, "announce the files", headers=headers,
          json=[{"key": f.name} for f in bundle.files])
    for file in bundle.files:
        key_url = f"{files_url}/{quote(file.name)}"
        with open(bundle.folder / file.name, "rb") as body:
            _call(http, "PUT", f"{key_url}/content", f"upload {file.name}", data=body,
                  headers={**headers, "Content-Type": "application/octet-stream"})
        _call(http, "POST", f"{key_url}/commit", f"commit {file.name}", headers=headers)
    if not publish:
        return Uploaded(record_id, False, draft.get("links", {}).get("self_html", f"{api}/{record_id}/draft"))
    done = _call(http, "POST", f"{api}/{quote(record_id)}/draft/actions/publish", "publish", headers=headers)
    return Uploaded(record_id, True, done.get("links", {}).get("self_html", f"{api}/{record_id}"))


def _call(http: requests.Session, method: str, url: str, what: str, **kwargs) -> dict:
    try:
        response = http.request(method, url, timeout=TIMEOUT_SECOND, **kwargs)
    except requests.RequestException as exc:
        raise UploadError(f"{what}: {method} {url} failed: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        raise UploadError(f"{what}: {method} {url} answered {response.status_code}: {_reason(response)}")
    return response.json() if response.content else {}


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0][:200] if response.text.strip() else "no reason given"
    return str(body.get("message") or body)[:200] if isinstance(body, dict) else str(body)[:200]
