"""The dry-run validator against InvenioRDM's own test record and against records broken one field at a time."""

from __future__ import annotations

import copy

import pytest

from bigmap_assets.archive.invenio import record_problems

# invenio-rdm-records' tests/conftest.py ``minimal_record`` fixture: what its REST API accepts as a draft.
UPSTREAM_MINIMAL = {
    "pids": {},
    "access": {"record": "public", "files": "public"},
    "files": {"enabled": False},
    "metadata": {
        "creators": [{"person_or_org": {"family_name": "Brown", "given_name": "Troy", "type": "personal"}},
                     {"person_or_org": {"name": "Troy Inc.", "type": "organizational"}}],
        "publication_date": "2020-06-01",
        "publisher": "Acme Inc",
        "resource_type": {"id": "image-photo"},
        "title": "A Romans story",
    },
}


def _valid() -> dict:
    record = copy.deepcopy(UPSTREAM_MINIMAL)
    record["metadata"]["resource_type"] = {"id": "dataset"}
    record["metadata"]["dates"] = [{"date": "2023-06-24/2023-09-07", "type": {"id": "collected"}}]
    record["metadata"]["subjects"] = [{"subject": "battery"}, {"id": "euroscivoc:123"}]
    record["metadata"]["identifiers"] = [{"identifier": "urn:bigmap:LNO-REF-A-01:cycling", "scheme": "urn"}]
    record["metadata"]["related_identifiers"] = [
        {"identifier": "https://w3id.org/emmo/domain/battery", "scheme": "url", "relation_type": {"id": "references"}}]
    return record


def test_the_upstream_minimal_record_passes_but_for_its_test_only_resource_type():
    # image-photo is a resource type of invenio-rdm-records' test vocabulary, not of the default one.
    assert record_problems(UPSTREAM_MINIMAL) == ["metadata.resource_type.id: 'image-photo' is not in the vocabulary"]
    assert record_problems(_valid()) == []


@pytest.mark.parametrize(("change", "problem"), [
    (lambda r: r["metadata"].pop("title"), "metadata.title: required, at least 3 characters"),
    (lambda r: r["metadata"].update(title="ab"), "metadata.title: required, at least 3 characters"),
    (lambda r: r["metadata"].update(creators=[]), "metadata.creators: at least one creator is required"),
    (lambda r: r["metadata"]["creators"][0]["person_or_org"].pop("family_name"),
     "metadata.creators[0].person_or_org.family_name: required for a person"),
    (lambda r: r["metadata"]["creators"][1]["person_or_org"].update(type="company"),
     "metadata.creators[1].person_or_org.type: 'company' is not one of ['organizational', 'personal']"),
    (lambda r: r["metadata"].update(publication_date="2024-13-01"),
     "metadata.publication_date: '2024-13-01' is not an EDTF level 0 date (YYYY-MM-DD) (required)"),
    (lambda r: r["metadata"].pop("resource_type"), "metadata.resource_type: required"),
    (lambda r: r["metadata"]["dates"][0].update(type={"id": "measured"}),
     "metadata.dates[0].type.id: 'measured' is not in the vocabulary"),
    (lambda r: r["metadata"]["dates"][0].update(date="24 June 2023"),
     "metadata.dates[0].date: '24 June 2023' is not an EDTF level 0 date or interval"),
    (lambda r: r["metadata"]["related_identifiers"][0].update(relation_type="references"),
     "metadata.related_identifiers[0].relation_type: must be an object with an 'id'"),
    (lambda r: r["metadata"]["related_identifiers"][0].update(scheme="http"),
     "metadata.related_identifiers[0].scheme: 'http' is not a related-identifier scheme"),
    (lambda r: r["metadata"]["identifiers"][0].update(identifier="bigmap:LNO-REF-A-01"),
     "metadata.identifiers[0].identifier: 'bigmap:LNO-REF-A-01' is not a URN (urn:<namespace>:<name>)"),
    (lambda r: r["metadata"]["identifiers"][0].update(scheme="local"),
     "metadata.identifiers[0].scheme: 'local' is not an identifier scheme"),
    (lambda r: r["metadata"]["subjects"].append({"scheme": "x"}), "metadata.subjects[2]: needs an 'id' or a free-text 'subject'"),
    (lambda r: r["metadata"].update(keywords=["battery"]), "metadata.keywords: not a field of InvenioRDM metadata"),
    (lambda r: r.update(community="big-map"), "community: not a field of an InvenioRDM record"),
    (lambda r: r["access"].update(record="open"), "access.record: 'open' is not one of ['public', 'restricted']"),
    (lambda r: r.pop("metadata"), "metadata: missing (required)"),
])
def test_each_broken_field_is_named(change, problem):
    record = _valid()
    change(record)
    assert record_problems(record) == [problem]
