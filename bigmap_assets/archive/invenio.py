"""Dry-run check of an InvenioRDM record (``metadata.json``) before anyone uploads it.

A focused checker, not ``jsonschema`` (not in the lock): it applies what an InvenioRDM
instance enforces on a draft sent to ``POST /api/records``, taken from
inveniosoftware/invenio-rdm-records:

- the record JSON Schema ``records/record-v7.0.0.json``: the top-level and ``metadata`` keys
  allowed (``additionalProperties: false``), ``access.record`` / ``access.files`` in
  public/restricted;
- the service's marshmallow ``MetadataSchema`` (``services/schemas/metadata.py``): required
  ``resource_type``, ``creators`` (at least one; ``person_or_org.type`` personal or
  organizational, a family name for a person, a name for an organisation; an affiliation has
  an ``id`` or a ``name``), ``title`` (3 characters or more), ``publication_date`` (EDTF
  level 0); dates, subjects, alternate identifiers (identifier, scheme; a URN's shape) and
  related identifiers (identifier, scheme, relation type);
- the default vocabularies (``fixtures/data/vocabularies/*.yaml``) for date types, relation
  types, creator roles and the resource types listed in ``RESOURCE_TYPES``.

An instance may configure other vocabularies; it still validates on its side.
"""

from __future__ import annotations

import re

TOP_LEVEL_KEYS = {"access", "files", "metadata", "custom_fields", "pids", "media_files"}
METADATA_KEYS = {
    "resource_type", "creators", "title", "additional_titles", "publisher", "publication_date", "subjects",
    "contributors", "dates", "languages", "identifiers", "related_identifiers", "sizes", "formats", "version",
    "rights", "description", "additional_descriptions", "locations", "funding", "references",
}
ACCESS_LEVELS = {"public", "restricted"}
NAME_TYPES = {"personal", "organizational"}
RESOURCE_TYPES = {
    "dataset", "image", "poster", "presentation", "event", "publication", "publication-article",
    "publication-report", "publication-datapaper", "publication-technicalnote", "publication-other",
}
DATE_TYPES = {"accepted", "available", "collected", "copyrighted", "created", "issued", "other", "submitted",
              "updated", "valid", "withdrawn"}
RELATION_TYPES = {
    "iscitedby", "cites", "issupplementto", "issupplementedby", "iscontinuedby", "continues", "isdescribedby",
    "describes", "hasmetadata", "ismetadatafor", "hasversion", "isversionof", "isnewversionof",
    "ispreviousversionof", "ispartof", "haspart", "ispublishedin", "isreferencedby", "references",
    "isdocumentedby", "documents", "iscompiledby", "compiles", "isvariantformof", "isoriginalformof",
    "isidenticalto", "isreviewedby", "reviews", "isderivedfrom", "issourceof", "isrequiredby", "requires",
    "isobsoletedby", "obsoletes", "istranslationof", "hastranslation", "iscollectedby", "collects",
}
ROLES = {"contactperson", "datacollector", "datacurator", "datamanager", "distributor", "editor",
         "hostinginstitution", "producer", "projectleader", "projectmanager", "projectmember", "registrationagency",
         "registrationauthority", "relatedperson", "researcher", "researchgroup", "rightsholder", "sponsor",
         "supervisor", "translator", "workpackageleader", "other"}
IDENTIFIER_SCHEMES = {"ark", "arxiv", "bibcode", "doi", "ean13", "eissn", "handle", "igsn", "isbn", "issn", "istc",
                      "lissn", "lsid", "pmid", "purl", "upc", "url", "urn", "w3id"}

URN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$", re.IGNORECASE)

# EDTF level 0: a year, year-month or date, optionally with a time; or an interval of two of them.
_EDTF_DATE = r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(Z|[+-]\d{2}:\d{2})?)?)?)?"
EDTF_LEVEL0 = re.compile(rf"^{_EDTF_DATE}(/{_EDTF_DATE})?$")


def record_problems(record: dict) -> list[str]:
    """Every reason ``record`` would be refused, each naming the field (empty when it is valid)."""
    if not isinstance(record, dict):
        return ["record: not a JSON object"]
    problems = [f"{key}: not a field of an InvenioRDM record" for key in sorted(set(record) - TOP_LEVEL_KEYS)]
    problems += _access_problems(record.get("access"))
    files = record.get("files")
    if files is not None and not (isinstance(files, dict) and isinstance(files.get("enabled"), bool)):
        problems.append("files: must be an object with a boolean 'enabled'")
    metadata = record.get("metadata")
    if not isinstance(metadata, dict):
        return [*problems, "metadata: missing (required)"]
    return problems + metadata_problems(metadata)


def metadata_problems(metadata: dict) -> list[str]:
    """The problems of a record's ``metadata`` object."""
    problems = [f"metadata.{key}: not a field of InvenioRDM metadata" for key in sorted(set(metadata) - METADATA_KEYS)]
    problems += _vocabulary("metadata.resource_type", metadata.get("resource_type"), RESOURCE_TYPES, required=True)
    creators = metadata.get("creators")
    if not isinstance(creators, list) or not creators:
        problems.append("metadata.creators: at least one creator is required")
    else:
        for index, creator in enumerate(creators):
            problems += _creator_problems(f"metadata.creators[{index}]", creator)
    title = metadata.get("title")
    if not isinstance(title, str) or len(title.strip()) < 3:
        problems.append("metadata.title: required, at least 3 characters")
    if not _is_edtf(metadata.get("publication_date")):
        problems.append(f"metadata.publication_date: {metadata.get('publication_date')!r} is not an EDTF level 0 "
                        "date (YYYY-MM-DD) (required)")
    for index, entry in enumerate(_list(metadata, "dates", problems)):
        where = f"metadata.dates[{index}]"
        if not _is_edtf(entry.get("date")):
            problems.append(f"{where}.date: {entry.get('date')!r} is not an EDTF level 0 date or interval")
        problems += _vocabulary(f"{where}.type", entry.get("type"), DATE_TYPES, required=True)
    for index, subject in enumerate(_list(metadata, "subjects", problems)):
        if not (_text(subject.get("id")) or _text(subject.get("subject"))):
            problems.append(f"metadata.subjects[{index}]: needs an 'id' or a free-text 'subject'")
    for index, identifier in enumerate(_list(metadata, "identifiers", problems)):
        problems += _identifier_problems(f"metadata.identifiers[{index}]", identifier)
    for index, related in enumerate(_list(metadata, "related_identifiers", problems)):
        problems += _related_problems(f"metadata.related_identifiers[{index}]", related)
    description = metadata.get("description")
    if description is not None and (not isinstance(description, str) or len(description.strip()) < 3):
        problems.append("metadata.description: at least 3 characters when given")
    return problems


def _access_problems(access) -> list[str]:
    if access is None:
        return []
    if not isinstance(access, dict):
        return ["access: must be an object"]
    return [f"access.{key}: {access[key]!r} is not one of {sorted(ACCESS_LEVELS)}"
            for key in ("record", "files") if key in access and access[key] not in ACCESS_LEVELS]


def _creator_problems(where: str, creator) -> list[str]:
    if not isinstance(creator, dict) or not isinstance(creator.get("person_or_org"), dict):
        return [f"{where}.person_or_org: required"]
    person = creator["person_or_org"]
    problems = []
    if person.get("type") not in NAME_TYPES:
        problems.append(f"{where}.person_or_org.type: {person.get('type')!r} is not one of {sorted(NAME_TYPES)}")
    elif person["type"] == "personal" and not _text(person.get("family_name")):
        problems.append(f"{where}.person_or_org.family_name: required for a person")
    elif person["type"] == "organizational" and not _text(person.get("name")):
        problems.append(f"{where}.person_or_org.name: required for an organisation")
    if "role" in creator:
        problems += _vocabulary(f"{where}.role", creator["role"], ROLES)
    for index, affiliation in enumerate(creator.get("affiliations") or []):
        if not isinstance(affiliation, dict) or not (_text(affiliation.get("id")) or _text(affiliation.get("name"))):
            problems.append(f"{where}.affiliations[{index}]: needs an 'id' or a 'name'")
    return problems


def _identifier_problems(where: str, identifier: dict) -> list[str]:
    """An alternate identifier: a scheme of ``IDENTIFIER_SCHEMES`` and a value of that scheme's shape (URNs
    checked here; the instance checks the others)."""
    value, scheme = identifier.get("identifier"), identifier.get("scheme")
    if not _text(value):
        return [f"{where}.identifier: required"]
    if scheme not in IDENTIFIER_SCHEMES:
        return [f"{where}.scheme: {scheme!r} is not an identifier scheme"]
    if scheme == "urn" and not URN.match(value):
        return [f"{where}.identifier: {value!r} is not a URN (urn:<namespace>:<name>)"]
    return []


def _related_problems(where: str, related: dict) -> list[str]:
    problems = []
    if not _text(related.get("identifier")):
        problems.append(f"{where}.identifier: required")
    if related.get("scheme") not in IDENTIFIER_SCHEMES:
        problems.append(f"{where}.scheme: {related.get('scheme')!r} is not a related-identifier scheme")
    problems += _vocabulary(f"{where}.relation_type", related.get("relation_type"), RELATION_TYPES, required=True)
    if "resource_type" in related:
        problems += _vocabulary(f"{where}.resource_type", related["resource_type"], RESOURCE_TYPES)
    return problems


def _vocabulary(where: str, value, allowed: set[str], required: bool = False) -> list[str]:
    """A vocabulary reference is ``{"id": <one of allowed>}``."""
    if value is None:
        return [f"{where}: required"] if required else []
    if not isinstance(value, dict) or not _text(value.get("id")):
        return [f"{where}: must be an object with an 'id'"]
    return [] if value["id"] in allowed else [f"{where}.id: {value['id']!r} is not in the vocabulary"]


def _list(metadata: dict, key: str, problems: list[str]) -> list[dict]:
    """The list of objects under ``key`` (empty when absent); a problem when it is not one."""
    value = metadata.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.append(f"metadata.{key}: must be a list of objects")
        return []
    return value


def _is_edtf(value) -> bool:
    return isinstance(value, str) and bool(EDTF_LEVEL0.match(value))


def _text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())
