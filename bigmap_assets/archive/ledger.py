"""What was deposited where: the local record of a bundle's uploads, and the bundle's content hash. No Dagster.

``<bundle folder>/uploaded.json`` maps each instance URL to its deposit of the bundle:

- ``concept_id``: the InvenioRDM parent (the id shared by all versions);
- ``record_id``, ``link``, ``content_sha256``: the last published version and the content it holds;
- ``draft_id``, ``draft_content_sha256``: a draft not yet published (an interrupted upload, a
  ``--draft`` upload, or the next version being made); the content hash once its metadata is set.

The content hash covers everything a bundle says except its timestamps (``prov:generatedAtTime``,
``publication_date``): the JSON-LD lists every data file with its SHA-256, so a changed file, record
or code version changes it, and a rebuild from the same inputs does not.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

LEDGER_NAME = "uploaded.json"


@dataclass(frozen=True)
class Deposit:
    concept_id: str | None = None
    record_id: str | None = None
    link: str | None = None
    content_sha256: str | None = None
    draft_id: str | None = None
    draft_content_sha256: str | None = None


def content_sha256(folder: Path, jsonld_name: str, record_name: str) -> str:
    """SHA-256 of the bundle's JSON-LD and record without their timestamps (canonical JSON)."""
    jsonld = json.loads((folder / jsonld_name).read_text(encoding="utf-8"))
    record = json.loads((folder / record_name).read_text(encoding="utf-8"))
    record.get("metadata", {}).pop("publication_date", None)
    return _sha256({"jsonld": _untimed(jsonld), "record": record})


def described_sha256(jsonld: dict) -> str:
    """SHA-256 of a JSON-LD without its timestamp: what an instance's copy of ``metadata.jsonld`` is compared by
    when the ledger is lost (the record is made from the same facts)."""
    return _sha256(_untimed(jsonld))


def _untimed(jsonld: dict) -> dict:
    return {k: v for k, v in jsonld.items() if k != "prov:generatedAtTime"}


def _sha256(document: dict) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_deposit(folder: Path, base_url: str) -> Deposit:
    """The bundle's deposit at ``base_url`` (an empty one when it was never uploaded there)."""
    entry = _read(folder).get(base_url.rstrip("/"))
    return Deposit(**{k: v for k, v in entry.items() if k in Deposit.__dataclass_fields__}) if entry else Deposit()


def write_deposit(folder: Path, base_url: str, deposit: Deposit) -> None:
    """Record ``deposit`` for ``base_url`` (atomically: a temp file renamed in)."""
    ledger = _read(folder)
    ledger[base_url.rstrip("/")] = {k: v for k, v in asdict(deposit).items() if v is not None}
    path = folder / LEDGER_NAME
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(ledger, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read(folder: Path) -> dict:
    path = folder / LEDGER_NAME
    if not path.exists():
        return {}
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON ({exc}); move it aside to upload as new") from None
    if not isinstance(ledger, dict):
        raise ValueError(f"{path}: not a JSON object; move it aside to upload as new")
    return ledger
