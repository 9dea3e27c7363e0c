"""Uploads against a small InvenioRDM stand-in on 127.0.0.1 that checks every call it receives."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from bigmap_assets.archive.bundle import JSONLD_NAME, RECORD_NAME, read_bundle, write_bundle
from bigmap_assets.archive.client import UploadError, upload
from bigmap_assets.archive.facts import Facts
from bigmap_assets.archive.ledger import LEDGER_NAME, content_sha256
from bigmap_assets.cli import main

TOKEN = "s3cr3t-token"


class FakeInvenio(ThreadingHTTPServer):
    """Drafts, versions, draft files (list, init, content, commit, delete) and publish, as InvenioRDM's REST API
    answers them.

    ``records`` maps an id to ``{"record", "files", "published", "parent"}``; a version shares its ``parent``.
    Refuses (4xx) a missing token, a file announced twice or not announced, content twice, a commit before
    content, a publish with an uncommitted file or no file, and draft calls on a published record; a new version
    of a record whose next version is still a draft answers that draft (as InvenioRDM does). ``interrupt`` maps
    ``(method, path)`` to "before" (answer 503, do nothing) or "after" (do it, then answer 503), once. Every call
    is recorded in ``calls``.
    """

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.calls: list[tuple[str, str]] = []
        self.records: dict[str, dict] = {}
        self.made = self.parents = 0
        self.refuse_create = False
        self.interrupt: dict[tuple[str, str], str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def drafts(self) -> list[str]:
        return [i for i, r in self.records.items() if not r["published"]]

    def versions(self, record_id: str) -> list[str]:
        return [i for i, r in self.records.items() if r["parent"] == self.records[record_id]["parent"]]

    def new(self, record: dict, parent: str | None = None) -> str:
        self.made += 1
        record_id = f"rec{self.made:02d}"
        if parent is None:
            self.parents += 1
            parent = f"par{self.parents:02d}"
        self.records[record_id] = {"record": record, "files": {}, "published": False, "parent": parent}
        return record_id

    def search(self, args: dict[str, list[str]]) -> dict:
        """``GET /api/user/records``: the records and drafts holding the identifier the query names, newest first;
        every version only with ``allversions``, else the latest per concept."""
        wanted = re.fullmatch(r'metadata\.identifiers\.identifier:"(.+)"', args["q"][0]).group(1)
        hits = [i for i, r in self.records.items()
                if wanted in [x["identifier"] for x in r["record"]["metadata"].get("identifiers", [])]]
        if args.get("allversions") != ["true"]:
            hits = [i for i in hits if i == self.versions(i)[-1]]
        return {"hits": {"hits": [self.answer(i) for i in reversed(hits)], "total": len(hits)}}

    def answer(self, record_id: str) -> dict:
        entry = self.records[record_id]
        page = f"records/{record_id}" if entry["published"] else f"uploads/{record_id}"
        index = self.versions(record_id).index(record_id) + 1
        return {"id": record_id, "parent": {"id": entry["parent"]}, "is_published": entry["published"],
                "versions": {"index": index, "is_latest": entry["published"] and index == len(self.versions(record_id))},
                "metadata": entry["record"].get("metadata", {}), "links": {"self_html": f"{self.url}/{page}"}}


class Handler(BaseHTTPRequestHandler):
    server: FakeInvenio

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: dict | list | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        body = self._body()
        self.server.calls.append((method, self.path))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._reply(403, {"message": "Permission denied."})
        when = self.server.interrupt.pop((method, self.path), None)
        if when == "before":
            return self._reply(503, {"message": "Service Unavailable"})
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if method == "GET" and parts == ["api", "user", "records"]:
            status, answer = 200, self.server.search(parse_qs(url.query))
        else:
            status, answer = self._route(method, parts, body)
        self._reply(503, {"message": "Service Unavailable"}) if when == "after" else self._reply(status, answer)

    def _route(self, method: str, parts: list[str], body: bytes) -> tuple[int, dict | list | None]:
        server = self.server
        if method == "POST" and parts == ["api", "records"]:
            if server.refuse_create:
                return 400, {"message": "A validation error occurred."}
            return 201, server.answer(server.new(json.loads(body)))
        entry = server.records.get(parts[2]) if len(parts) > 2 and parts[:2] == ["api", "records"] else None
        if entry is None:
            return 404, {"message": "not found"}
        record_id, tail = parts[2], parts[3:]
        if method == "GET" and tail == []:
            return (200, server.answer(record_id)) if entry["published"] else (404, {"message": "not found"})
        if method == "GET" and len(tail) == 3 and tail[0] == "files" and tail[2] == "content" and entry["published"]:
            file = entry["files"].get(tail[1])
            return (200, json.loads(file["content"])) if file else (404, {"message": "no such file"})
        if method == "POST" and tail == ["versions"]:
            if not entry["published"]:
                return 400, {"message": "only a published record has versions"}
            pending = [i for i in server.versions(record_id) if not server.records[i]["published"]]
            if pending:
                return 201, server.answer(pending[0])
            record = json.loads(json.dumps(entry["record"]))
            record["metadata"].pop("publication_date", None)
            return 201, server.answer(server.new(record, entry["parent"]))
        if not tail or tail[0] != "draft" or entry["published"]:
            return 404, {"message": "no such draft"}
        if tail == ["draft"]:
            if method == "GET":
                return 200, server.answer(record_id)
            if method == "PUT":
                entry["record"] = json.loads(body)
                return 200, server.answer(record_id)
            if method == "DELETE":
                del server.records[record_id]
                return 204, None
        if tail == ["draft", "files"]:
            if method == "GET":
                return 200, {"entries": [
                    {"key": key, "status": "completed" if f["committed"] else "pending",
                     **({"checksum": f"md5:{hashlib.md5(f['content']).hexdigest()}"} if f["committed"] else {})}
                    for key, f in entry["files"].items()]}
            keys = [e["key"] for e in json.loads(body)]
            if already := [k for k in keys if k in entry["files"]]:
                return 400, {"message": f"file {already[0]} already exists"}
            entry["files"].update({k: {"content": None, "committed": False} for k in keys})
            return 201, {"entries": [{"key": k, "status": "pending"} for k in entry["files"]]}
        if len(tail) >= 3 and tail[:2] == ["draft", "files"]:
            file = entry["files"].get(tail[2])
            if file is None:
                return 404, {"message": f"file {tail[2]} not announced"}
            if method == "DELETE" and len(tail) == 3:
                del entry["files"][tail[2]]
                return 204, None
            if method == "PUT" and tail[3:] == ["content"] and file["content"] is None:
                if self.headers.get("Content-Type") != "application/octet-stream":
                    return 415, {"message": "expected application/octet-stream"}
                file["content"] = body
                return 200, {"key": tail[2], "status": "pending"}
            if method == "POST" and tail[3:] == ["commit"] and file["content"] is not None:
                file["committed"] = True
                return 200, {"key": tail[2], "status": "completed"}
            return 400, {"message": f"{method} {'/'.join(tail[3:])} out of order for {tail[2]}"}
        if method == "POST" and tail == ["draft", "actions", "publish"]:
            if not entry["files"] or not all(f["committed"] for f in entry["files"].values()):
                return 400, {"message": "files not committed"}
            if "publication_date" not in entry["record"]["metadata"]:
                return 400, {"message": "publication_date: missing"}
            entry["published"] = True
            return 202, server.answer(record_id)
        return 404, {"message": "no such route"}


@pytest.fixture()
def server():
    instance = FakeInvenio()
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


def _bundle(folder, sample=None, plot_bytes=b"\x89PNG not really", now=datetime(2026, 12, 6, tzinfo=timezone.utc)):
    plot = folder.parent / "plots" / "LNO-REF-A-01_plot.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    plot.write_bytes(plot_bytes)
    facts = Facts("LNO-REF-A-01", "cycling", sample=sample if sample is not None else {"provider": "ProviderA"},
                  raw_files=[{"path": "raw/cycling/LNO-REF-A-01/a.mpt", "sha256": "cd" * 32, "size_byte": 10,
                              "reader": "eclab_mpt", "status": "ok"}])
    return write_bundle(folder, facts, {}, [plot], code_version="0.1.0", now=now)


def test_upload_creates_a_draft_sends_every_file_and_publishes(tmp_path, server):
    bundle = _bundle(tmp_path / "b")
    done = upload(bundle, server.url, TOKEN)
    assert (done.record_id, done.published, done.link) == ("rec01", True, f"{server.url}/records/rec01")
    draft = server.records["rec01"]
    assert draft["record"] == bundle.record
    assert draft["published"]
    assert sorted(draft["files"]) == sorted(["LNO-REF-A-01_plot.png", "metadata.jsonld"])
    for file in bundle.files:
        assert hashlib.sha256(draft["files"][file.name]["content"]).hexdigest() == file.sha256
    assert server.calls == [
        ("GET", "/api/user/records?q=metadata.identifiers.identifier%3A%22urn%3Abigmap%3ALNO-REF-A-01%3Acycling%22"
                "&allversions=true&sort=newest&size=100"),  # nothing of it there yet
        ("POST", "/api/records"), ("GET", "/api/records/rec01/draft/files"), ("POST", "/api/records/rec01/draft/files"),
        ("PUT", "/api/records/rec01/draft/files/LNO-REF-A-01_plot.png/content"),
        ("POST", "/api/records/rec01/draft/files/LNO-REF-A-01_plot.png/commit"),
        ("PUT", "/api/records/rec01/draft/files/metadata.jsonld/content"),
        ("POST", "/api/records/rec01/draft/files/metadata.jsonld/commit"),
        ("POST", "/api/records/rec01/draft/actions/publish"),
    ]


def test_a_draft_is_left_unpublished_on_request(tmp_path, server):
    done = upload(_bundle(tmp_path / "b"), server.url, TOKEN, publish=False)
    assert (done.published, done.link) == (False, f"{server.url}/uploads/rec01")
    assert not server.records["rec01"]["published"]
    assert ("POST", "/api/records/rec01/draft/actions/publish") not in server.calls


def test_a_refusal_names_the_call_and_the_instances_reason(tmp_path, server):
    with pytest.raises(UploadError, match=r"look the bundle up: GET .*/api/user/records answered 403: Permission denied"):
        upload(_bundle(tmp_path / "b"), server.url, "wrong-token")
    server.refuse_create = True
    with pytest.raises(UploadError, match="answered 400: A validation error occurred"):
        upload(_bundle(tmp_path / "c"), server.url, TOKEN)


def test_an_invalid_record_is_never_sent(tmp_path, server):
    bundle = _bundle(tmp_path / "b", sample={})  # no provider, no experiment: no creator
    with pytest.raises(ValueError, match="record not valid: metadata.creators: at least one creator is required"):
        upload(bundle, server.url, TOKEN)
    assert server.calls == []


def _ledger(folder, server) -> dict:
    return json.loads((folder / LEDGER_NAME).read_text())[server.url]


def _published(server) -> dict[str, bytes]:
    """Every published record's id with its files' bytes, as the instance holds them."""
    return {i: {k: f["content"] for k, f in r["files"].items()} for i, r in server.records.items() if r["published"]}


def test_the_same_bundle_twice_is_one_record_and_the_second_upload_sends_nothing(tmp_path, server):
    first = upload(_bundle(tmp_path / "b"), server.url, TOKEN)
    calls = len(server.calls)
    rebuilt = _bundle(tmp_path / "b", now=datetime(2026, 12, 7, 9, tzinfo=timezone.utc))  # same inputs, a day later
    assert rebuilt.record["metadata"]["publication_date"] == "2026-12-07"
    again = upload(rebuilt, server.url, TOKEN)
    assert (again.record_id, again.link, again.action, again.published) == ("rec01", first.link, "unchanged", True)
    assert len(server.calls) == calls
    assert list(server.records) == ["rec01"]
    assert _ledger(tmp_path / "b", server) == {"concept_id": "par01", "record_id": "rec01", "link": first.link,
                                               "content_sha256": content_sha256(tmp_path / "b", JSONLD_NAME,
                                                                                RECORD_NAME)}


def test_a_changed_bundle_becomes_the_next_version_of_the_same_concept(tmp_path, server):
    upload(_bundle(tmp_path / "b"), server.url, TOKEN)
    changed = _bundle(tmp_path / "b", plot_bytes=b"\x89PNG another curve")
    calls = len(server.calls)
    done = upload(changed, server.url, TOKEN)
    assert (done.record_id, done.action, done.concept_id, done.previous_id) == ("rec02", "new version", "par01", "rec01")
    assert server.calls[calls:calls + 3] == [("POST", "/api/records/rec01/versions"), ("PUT", "/api/records/rec02/draft"),
                                             ("GET", "/api/records/rec02/draft/files")]
    assert server.versions("rec01") == ["rec01", "rec02"] and server.drafts() == []
    assert server.records["rec02"]["record"] == changed.record
    assert _published(server)["rec02"]["LNO-REF-A-01_plot.png"] == b"\x89PNG another curve"
    assert _published(server)["rec01"]["LNO-REF-A-01_plot.png"] == b"\x89PNG not really"
    assert upload(changed, server.url, TOKEN).action == "unchanged"
    assert len(server.records) == 2


def test_an_interrupted_upload_is_resumed_without_an_orphan_draft(tmp_path, server):
    bundle = _bundle(tmp_path / "b")
    server.interrupt[("POST", "/api/records/rec01/draft/files/metadata.jsonld/commit")] = "before"
    with pytest.raises(UploadError, match="commit metadata.jsonld: .* answered 503"):
        upload(bundle, server.url, TOKEN)
    assert _ledger(tmp_path / "b", server)["draft_id"] == "rec01"
    calls = len(server.calls)
    done = upload(bundle, server.url, TOKEN)
    assert (done.record_id, done.action, done.published) == ("rec01", "resumed", True)
    assert server.calls[calls:] == [  # the committed plot is kept, the pending JSON-LD sent again
        ("GET", "/api/records/rec01/draft"), ("GET", "/api/records/rec01/draft/files"),
        ("DELETE", "/api/records/rec01/draft/files/metadata.jsonld"),
        ("POST", "/api/records/rec01/draft/files"),
        ("PUT", "/api/records/rec01/draft/files/metadata.jsonld/content"),
        ("POST", "/api/records/rec01/draft/files/metadata.jsonld/commit"),
        ("POST", "/api/records/rec01/draft/actions/publish")]
    assert list(server.records) == ["rec01"] and server.drafts() == []
    for file in bundle.files:
        assert hashlib.sha256(_published(server)["rec01"][file.name]).hexdigest() == file.sha256


def test_an_interrupted_new_version_is_resumed_even_when_its_draft_was_never_recorded(tmp_path, server):
    upload(_bundle(tmp_path / "b"), server.url, TOKEN)
    changed = _bundle(tmp_path / "b", plot_bytes=b"\x89PNG another curve")
    server.interrupt[("POST", "/api/records/rec01/versions")] = "after"  # the draft made, its answer lost
    with pytest.raises(UploadError, match="create the new version"):
        upload(changed, server.url, TOKEN)
    assert server.drafts() == ["rec02"] and "draft_id" not in _ledger(tmp_path / "b", server)
    server.interrupt[("PUT", "/api/records/rec02/draft/files/LNO-REF-A-01_plot.png/content")] = "before"
    with pytest.raises(UploadError, match="upload LNO-REF-A-01_plot.png"):
        upload(changed, server.url, TOKEN)
    assert _ledger(tmp_path / "b", server)["draft_id"] == "rec02"
    done = upload(changed, server.url, TOKEN)
    assert (done.record_id, done.action, done.previous_id) == ("rec02", "resumed", "rec01")
    assert list(server.records) == ["rec01", "rec02"] and server.drafts() == []
    assert server.versions("rec01") == ["rec01", "rec02"]
    assert _published(server)["rec02"]["LNO-REF-A-01_plot.png"] == b"\x89PNG another curve"


def test_a_publish_whose_answer_was_lost_is_not_published_twice(tmp_path, server):
    bundle = _bundle(tmp_path / "b")
    server.interrupt[("POST", "/api/records/rec01/draft/actions/publish")] = "after"
    with pytest.raises(UploadError, match="publish"):
        upload(bundle, server.url, TOKEN)
    done = upload(bundle, server.url, TOKEN)
    assert (done.record_id, done.action, done.link) == ("rec01", "unchanged", f"{server.url}/records/rec01")
    assert list(server.records) == ["rec01"]


def test_a_draft_discarded_on_the_instance_is_replaced(tmp_path, server):
    bundle = _bundle(tmp_path / "b")
    upload(bundle, server.url, TOKEN, publish=False)
    assert upload(bundle, server.url, TOKEN, publish=False).action == "unchanged"  # same draft, nothing sent
    del server.records["rec01"]  # discarded by hand in the web interface
    done = upload(bundle, server.url, TOKEN)
    assert (done.record_id, done.action) == ("rec02", "created")
    assert list(server.records) == ["rec02"] and server.drafts() == []


def test_a_next_version_draft_is_discarded_when_the_bundle_is_back_to_the_published_content(tmp_path, server):
    upload(_bundle(tmp_path / "b"), server.url, TOKEN)
    upload(_bundle(tmp_path / "b", plot_bytes=b"\x89PNG another curve"), server.url, TOKEN, publish=False)
    assert server.drafts() == ["rec02"]
    done = upload(_bundle(tmp_path / "b"), server.url, TOKEN)
    assert (done.record_id, done.action) == ("rec01", "unchanged")
    assert list(server.records) == ["rec01"]
    assert "draft_id" not in _ledger(tmp_path / "b", server)


def test_with_the_ledger_lost_the_record_is_found_on_the_instance_by_its_urn(tmp_path, server):
    upload(_bundle(tmp_path / "b"), server.url, TOKEN)
    (tmp_path / "b" / LEDGER_NAME).unlink()  # the warehouse rebuilt from scratch
    rebuilt = _bundle(tmp_path / "b", now=datetime(2026, 12, 9, tzinfo=timezone.utc))
    calls = len(server.calls)
    again = upload(rebuilt, server.url, TOKEN)
    assert (again.record_id, again.action, again.concept_id) == ("rec01", "unchanged", "par01")
    assert [c[0] for c in server.calls[calls:]] == ["GET", "GET"]  # the search, then its metadata.jsonld
    assert server.calls[-1] == ("GET", "/api/records/rec01/files/metadata.jsonld/content")
    assert list(server.records) == ["rec01"]
    assert _ledger(tmp_path / "b", server)["record_id"] == "rec01"

    (tmp_path / "b" / LEDGER_NAME).unlink()
    changed = _bundle(tmp_path / "b", plot_bytes=b"\x89PNG another curve")
    done = upload(changed, server.url, TOKEN)
    assert (done.record_id, done.action, done.previous_id) == ("rec02", "new version", "rec01")
    assert server.versions("rec01") == ["rec01", "rec02"] and server.drafts() == []


def test_a_draft_whose_creation_answer_was_lost_is_found_and_resumed(tmp_path, server):
    bundle = _bundle(tmp_path / "b")
    server.interrupt[("POST", "/api/records")] = "after"  # the draft made, the answer lost: nothing in the ledger
    with pytest.raises(UploadError, match="create the draft"):
        upload(bundle, server.url, TOKEN)
    assert server.drafts() == ["rec01"] and not (tmp_path / "b" / LEDGER_NAME).exists()
    done = upload(bundle, server.url, TOKEN)
    assert (done.record_id, done.action, done.published) == ("rec01", "resumed", True)
    assert ("PUT", "/api/records/rec01/draft") in server.calls  # its metadata set again: unknown what it holds
    assert list(server.records) == ["rec01"] and server.drafts() == []


def test_the_ledger_survives_a_rebuild_and_is_never_uploaded(tmp_path, server):
    upload(_bundle(tmp_path / "b"), server.url, TOKEN)
    rebuilt = _bundle(tmp_path / "b", plot_bytes=b"\x89PNG another curve")
    assert (tmp_path / "b" / LEDGER_NAME).exists()
    assert LEDGER_NAME not in {f.name for f in rebuilt.files}
    upload(rebuilt, server.url, TOKEN)
    assert all(LEDGER_NAME not in files for files in _published(server).values())


def test_the_command_uploads_the_selected_bundles_from_the_environment(tmp_path, server, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    _bundle(data_dir / "warehouse" / "archive" / "LNO-REF-A-01" / "cycling")
    monkeypatch.setenv("BIGMAP_ARCHIVE_URL", server.url)
    monkeypatch.setenv("BIGMAP_ARCHIVE_TOKEN", TOKEN)
    assert main(["archive", "validate", "--data-dir", str(data_dir)]) == 0
    assert main(["archive", "upload", "--data-dir", str(data_dir), "--sample", "LNO-REF-A-01"]) == 0
    out = capsys.readouterr().out
    assert "ok      LNO-REF-A-01 cycling: 2 files" in out
    assert f"published LNO-REF-A-01 cycling: record rec01 {server.url}/records/rec01" in out
    assert server.records["rec01"]["published"]
    assert main(["archive", "upload", "--data-dir", str(data_dir)]) == 0
    assert (f"unchanged LNO-REF-A-01 cycling: record rec01 {server.url}/records/rec01 (this content is already "
            "published)") in capsys.readouterr().out
    assert list(server.records) == ["rec01"]


def test_the_command_refuses_all_when_one_record_is_invalid(tmp_path, server, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    _bundle(data_dir / "warehouse" / "archive" / "LNO-REF-A-01" / "cycling")
    _bundle(data_dir / "warehouse" / "archive" / "LNO-X-01" / "cycling", sample={})
    monkeypatch.setenv("BIGMAP_ARCHIVE_URL", server.url)
    monkeypatch.setenv("BIGMAP_ARCHIVE_TOKEN", TOKEN)
    assert main(["archive", "validate", "--data-dir", str(data_dir)]) == 1
    assert "INVALID LNO-X-01 cycling: 2 files" in capsys.readouterr().out
    assert main(["archive", "upload", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "LNO-X-01/cycling: record not valid" in err and "nothing uploaded" in err
    assert server.calls == []
    assert read_bundle(data_dir / "warehouse" / "archive" / "LNO-X-01" / "cycling").problems


def test_the_command_needs_the_instance_and_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("BIGMAP_ARCHIVE_URL", raising=False)
    monkeypatch.delenv("BIGMAP_ARCHIVE_TOKEN", raising=False)
    assert main(["archive", "upload", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("bigmap: error: BIGMAP_ARCHIVE_URL is not set: export the archive's URL and "
                                       "a personal access token\n")
