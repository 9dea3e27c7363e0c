"""Upload a bundle to an InvenioRDM instance (the BIG-MAP Archive) through its REST API. No Dagster.

Uploading is idempotent: ``uploaded.json`` in the bundle folder (``ledger``) remembers, per instance,
the published record, its concept (parent) id and content hash, and any draft not yet published. So:

- the same content again sends nothing and says where it already is;
- a changed bundle of a published record becomes its next version: ``POST /api/records/{id}/versions``
  (the instance hands back the pending next-version draft when there is one), then
  ``PUT /api/records/{draft}/draft`` with the new ``metadata.json``;
- a draft left by an interrupted (or ``--draft``) upload is resumed: its metadata updated when the
  content changed, its files that are committed with the same MD5 kept, the others deleted
  (``DELETE .../draft/files/{key}``) and sent again; a draft discarded on the instance (404) is
  replaced by a new one. A stale next-version draft is discarded when the bundle is back to the
  published content;
- with no ledger entry for the instance (first upload from this warehouse, or the ledger lost with a
  rebuilt warehouse, or a create whose answer was lost), the bundle is looked up there by the URN in its
  record's ``metadata.identifiers``: ``GET /api/user/records?q=...&allversions=true``; its latest
  published version counts as unchanged when that version's ``metadata.jsonld`` says what the bundle's
  says (timestamp aside), and its draft is resumed;
- a new bundle is created with ``POST /api/records``.

Files go as ``POST /api/records/{id}/draft/files`` (``[{"key": name}, ...]``), then per file
``PUT .../draft/files/{key}/content`` (``application/octet-stream``) and ``POST .../commit``; then
``POST /api/records/{id}/draft/actions/publish`` unless the draft is to stay a draft. The ledger is
written as soon as a draft exists, before any file is sent. Every request carries
``Authorization: Bearer <token>``. The record is validated first (``invenio.record_problems``); an
invalid one is never sent.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from urllib.parse import quote

import requests

from .bundle import JSONLD_NAME, RECORD_NAME, Bundle
from .ledger import Deposit, content_sha256, described_sha256, read_deposit, write_deposit

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
    action: str  # "created", "new version", "resumed" (an earlier draft), "unchanged" (nothing sent)
    concept_id: str | None = None  # the parent id shared by all versions, when the instance gave it
    previous_id: str | None = None  # the published version this one follows


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


class _Api:
    """The records API of one instance, every call named for its error message."""

    def __init__(self, base_url: str, token: str, session: requests.Session | None):
        self.base = base_url
        self.records = f"{base_url}/api/records"
        self.http = session or requests.Session()
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def draft_url(self, record_id: str) -> str:
        return f"{self.records}/{quote(record_id)}/draft"

    def call(self, method: str, url: str, what: str, *, missing_ok: bool = False, **kwargs) -> dict | None:
        """The JSON answer (``{}`` when empty); None for a 404 when ``missing_ok``; UploadError otherwise."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        try:
            response = self.http.request(method, url, timeout=TIMEOUT_SECOND, headers=headers, **kwargs)
        except requests.RequestException as exc:
            raise UploadError(f"{what}: {method} {url} failed: {type(exc).__name__}") from exc
        if missing_ok and response.status_code in (404, 410):
            return None
        if response.status_code >= 400:
            raise UploadError(f"{what}: {method} {url} answered {response.status_code}: {_reason(response)}")
        return response.json() if response.content else {}


def upload(bundle: Bundle, base_url: str, token: str, *, publish: bool = True,
           session: requests.Session | None = None) -> Uploaded:
    """Deposit the bundle: nothing when its content is already published there, else a new record, the next
    version of its published record, or the draft an earlier upload left, with every file; then publish it
    (or leave the draft)."""
    if bundle.problems:
        raise ValueError(f"{bundle.folder}: record not valid: {bundle.problems[0]}")
    api = _Api(base_url.rstrip("/"), token, session)
    ledger = _Ledger(bundle, base_url.rstrip("/"))
    digest = content_sha256(bundle.folder, JSONLD_NAME, RECORD_NAME)
    if ledger.deposit == Deposit():  # never uploaded from here, or the ledger was lost with the warehouse
        found = _found_on_instance(api, bundle, digest)
        if found != Deposit():
            ledger.remember(**asdict(found))
    draft = _earlier_draft(api, ledger)
    before = ledger.deposit  # what the instance held when this upload began
    if before.record_id and before.content_sha256 == digest:
        if draft is not None:  # a next version begun for content since reverted
            api.call("DELETE", api.draft_url(before.draft_id), "discard the stale draft", missing_ok=True)
            ledger.remember(draft_id=None, draft_content_sha256=None)
        return Uploaded(before.record_id, True, before.link or "", "unchanged", before.concept_id)
    if draft is not None:
        action = "resumed"
    elif before.record_id:
        action = "new version"
        draft = api.call("POST", f"{api.records}/{quote(before.record_id)}/versions", "create the new version")
        ledger.remember(draft_id=draft["id"], draft_content_sha256=None)
    else:
        action = "created"
        draft = api.call("POST", api.records, "create the draft", json=bundle.record)
        ledger.remember(draft_id=draft["id"], draft_content_sha256=digest, concept_id=_parent(draft))
    draft_id = ledger.deposit.draft_id
    sent = 0
    if ledger.deposit.draft_content_sha256 != digest:
        api.call("PUT", api.draft_url(draft_id), "update the draft's metadata", json=bundle.record)
        ledger.remember(draft_content_sha256=digest)
        sent += 1
    sent += _send_files(api, bundle, draft_id)
    if not publish:
        link = draft.get("links", {}).get("self_html", api.draft_url(draft_id))
        return Uploaded(draft_id, False, link, "unchanged" if action == "resumed" and not sent else action,
                        ledger.deposit.concept_id, before.record_id)
    done = api.call("POST", f"{api.draft_url(draft_id)}/actions/publish", "publish")
    link = done.get("links", {}).get("self_html", f"{api.records}/{draft_id}")
    ledger.remember(record_id=draft_id, link=link, content_sha256=digest, draft_id=None, draft_content_sha256=None,
                    concept_id=_parent(done) or ledger.deposit.concept_id)
    return Uploaded(draft_id, True, link, action, ledger.deposit.concept_id, before.record_id)


class _Ledger:
    """The bundle's deposit at one instance, written through to ``uploaded.json`` on every change."""

    def __init__(self, bundle: Bundle, base_url: str):
        self.folder, self.base_url = bundle.folder, base_url
        self.deposit = read_deposit(bundle.folder, base_url)

    def remember(self, **changes) -> None:
        self.deposit = replace(self.deposit, **changes)
        write_deposit(self.folder, self.base_url, self.deposit)


def _earlier_draft(api: _Api, ledger: _Ledger) -> dict | None:
    """The draft the ledger names, as the instance has it; None when there is none. A draft that became a
    record (published, the answer lost) is entered in the ledger as published; one discarded is forgotten."""
    deposit = ledger.deposit
    if not deposit.draft_id:
        return None
    draft = api.call("GET", api.draft_url(deposit.draft_id), "read the earlier draft", missing_ok=True)
    if draft is not None:
        return draft
    record = api.call("GET", f"{api.records}/{quote(deposit.draft_id)}", "read the earlier record", missing_ok=True)
    if record is None:
        ledger.remember(draft_id=None, draft_content_sha256=None)
    else:
        ledger.remember(record_id=deposit.draft_id, link=record.get("links", {}).get("self_html"),
                        content_sha256=deposit.draft_content_sha256, concept_id=_parent(record) or deposit.concept_id,
                        draft_id=None, draft_content_sha256=None)
    return None


def _found_on_instance(api: _Api, bundle: Bundle, digest: str) -> Deposit:
    """What the instance holds of the bundle, found by its URN (``metadata.identifiers``) among the token
    owner's records and drafts: the latest published version (its content taken as the bundle's when its
    ``metadata.jsonld`` says the same, timestamp aside) and its next draft, or the newest draft when nothing
    is published. An empty Deposit when there is none (or the instance has no user search)."""
    urn = next((i["identifier"] for i in bundle.record["metadata"].get("identifiers", [])
                if i.get("scheme") == "urn"), None)
    if urn is None:
        return Deposit()
    answer = api.call("GET", f"{api.base}/api/user/records", "look the bundle up", missing_ok=True,
                      params={"q": f'metadata.identifiers.identifier:"{urn}"', "allversions": "true",
                              "sort": "newest", "size": 100})
    hits = [h for h in ((answer or {}).get("hits") or {}).get("hits", [])
            if urn in {i.get("identifier") for i in (h.get("metadata") or {}).get("identifiers", [])}]
    published = [h for h in hits if h.get("is_published")]
    latest = max(published, key=lambda h: (h.get("versions") or {}).get("index", 0), default=None)
    drafts = [h for h in hits if not h.get("is_published") and (latest is None or _parent(h) == _parent(latest))]
    found = Deposit()
    if latest is not None:
        held = api.call("GET", f"{api.records}/{quote(latest['id'])}/files/{JSONLD_NAME}/content",
                        f"read record {latest['id']}'s {JSONLD_NAME}", missing_ok=True)
        ours = json.loads((bundle.folder / JSONLD_NAME).read_text(encoding="utf-8"))
        same = isinstance(held, dict) and described_sha256(held) == described_sha256(ours)
        found = Deposit(concept_id=_parent(latest), record_id=latest["id"],
                        link=(latest.get("links") or {}).get("self_html"), content_sha256=digest if same else None)
    if drafts:  # newest first
        found = replace(found, draft_id=drafts[0]["id"], concept_id=found.concept_id or _parent(drafts[0]))
    return found


def _parent(answer: dict) -> str | None:
    return (answer.get("parent") or {}).get("id")


def _send_files(api: _Api, bundle: Bundle, draft_id: str) -> int:
    """Make the draft's files the bundle's: keep those committed with the same MD5, delete the others, send
    the missing ones. The number sent."""
    files_url = f"{api.draft_url(draft_id)}/files"
    listed = api.call("GET", files_url, "list the draft's files").get("entries", [])
    local = {f.name for f in bundle.files}
    kept = set()
    for entry in listed:
        key = entry["key"]
        if (key in local and entry.get("status") == "completed"
                and entry.get("checksum") == f"md5:{_md5(bundle.folder / key)}"):
            kept.add(key)
        else:
            api.call("DELETE", f"{files_url}/{quote(key)}", f"delete the draft's {key}")
    missing = [f for f in bundle.files if f.name not in kept]
    if missing:
        api.call("POST", files_url, "announce the files", json=[{"key": f.name} for f in missing])
    for file in missing:
        key_url = f"{files_url}/{quote(file.name)}"
        with open(bundle.folder / file.name, "rb") as body:
            api.call("PUT", f"{key_url}/content", f"upload {file.name}", data=body,
                     headers={"Content-Type": "application/octet-stream"})
        api.call("POST", f"{key_url}/commit", f"commit {file.name}")
    return len(missing)


def _md5(path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0][:200] if response.text.strip() else "no reason given"
    return str(body.get("message") or body)[:200] if isinstance(body, dict) else str(body)[:200]
