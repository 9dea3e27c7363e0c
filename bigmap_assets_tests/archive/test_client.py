"""Uploads against a small InvenioRDM stand-in on 127.0.0.1 that checks every call it receives."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from bigmap_assets.archive.bundle import read_bundle, write_bundle
from bigmap_assets.archive.client import UploadError, upload
from bigmap_assets.archive.facts import Facts
from bigmap_assets.cli import main

TOKEN = "s3cr3t-token"


class FakeInvenio(ThreadingHTTPServer):
    """Drafts, draft files (init, content, commit) and publish, as InvenioRDM's REST API answers them.

    Refuses (4xx) a missing token, a file not announced, content twice, a commit before content, and a
    publish with an uncommitted file; records every call in ``calls``.
    """

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.calls: list[tuple[str, str]] = []
        self.drafts: dict[str, dict] = {}
        self.refuse_create = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeInvenio

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: dict | list) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        body = self._body()
        self.server.calls.append((method, self.path))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._reply(403, {"message": "Permission denied."})
        parts = [unquote(p) for p in self.path.strip("/").split("/")]
        if method == "POST" and parts == ["api", "records"]:
            if self.server.refuse_create:
                return self._reply(400, {"message": "A validation error occurred."})
            record_id = f"rec{len(self.server.drafts) + 1:02d}"
            self.server.drafts[record_id] = {"record": json.loads(body), "files": {}, "published": False}
            return self._reply(201, {"id": record_id, "links": {"self_html": f"{self.server.url}/uploads/{record_id}"}})
        draft = self.server.drafts.get(parts[2]) if len(parts) > 2 else None
        if draft is None:
            return self._reply(404, {"message": "not found"})
        tail = parts[3:]
        if method == "POST" and tail == ["draft", "files"]:
            for entry in json.loads(body):
                draft["files"][entry["key"]] = {"content": None, "committed": False}
            return self._reply(201, {"entries": [{"key": k, "status": "pending"} for k in draft["files"]]})
        if len(tail) == 4 and tail[:2] == ["draft", "files"]:
            file = draft["files"].get(tail[2])
            if file is None:
                return self._reply(404, {"message": f"file {tail[2]} not announced"})
            if method == "PUT" and tail[3:] == ["content"] and file["content"] is None:
                if self.headers.get("Content-Type") != "application/octet-stream":
                    return self._reply(415, {"message": "expected application/octet-stream"})
                file["content"] = body
                return self._reply(200, {"key": tail[2], "status": "pending"})
            if method == "POST" and tail[3:] == ["commit"] and file["content"] is not None:
                file["committed"] = True
                return self._reply(200, {"key": tail[2], "status": "completed"})
            return self._reply(400, {"message": f"{method} {'/'.join(tail[3:])} out of order for {tail[2]}"})
        if method == "POST" and tail == ["draft", "actions", "publish"]:
            if not all(f["committed"] for f in draft["files"].values()):
                return self._reply(400, {"message": "files not committed"})
            draft["published"] = True
            return self._reply(202, {"id": parts[2], "links": {"self_html": f"{self.server.url}/records/{parts[2]}"}})
        return self._reply(404, {"message": "no such route"})


@pytest.fixture()
def server():
    instance = FakeInvenio()
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


def _bundle(folder, sample=None):
    plot = folder.parent / "plots" / "LNO-REF-A-01_plot.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    plot.write_bytes(b"\x89PNG not really")
    facts = Facts("LNO-REF-A-01", "cycling", sample=sample if sample is not None else {"provider": "ProviderA"},
                  raw_files=[{"path": "raw/cycling/LNO-REF-A-01/a.mpt", "sha256": "cd" * 32, "size_byte": 10,
                              "reader": "eclab_mpt", "status": "ok"}])
    return write_bundle(folder, facts, {}, [plot], code_version="0.1.0", now=datetime(2026, 12, 6, tzinfo=timezone.utc))


def test_upload_creates_a_draft_sends_every_file_and_publishes(tmp_path, server):
    bundle = _bundle(tmp_path / "b")
    done = upload(bundle, server.url, TOKEN)
    assert (done.record_id, done.published, done.link) == ("rec01", True, f"{server.url}/records/rec01")
    draft = server.drafts["rec01"]
    assert draft["record"] == bundle.record
    assert draft["published"]
    assert sorted(draft["files"]) == sorted(["LNO-REF-A-01_plot.png", "metadata.jsonld"])
    for file in bundle.files:
        assert hashlib.sha256(draft["files"][file.name]["content"]).hexdigest() == file.sha256
    assert server.calls == [
        ("POST", "/api/records"), ("POST", "/api/records/rec01/draft/files"),
        ("PUT", "/api/records/rec01/draft/files/LNO-REF-A-01_plot.png/content"),
        ("POST", "/api/records/rec01/draft/files/LNO-REF-A-01_plot.png/commit"),
        ("PUT", "/api/records/rec01/draft/files/metadata.jsonld/content"),
        ("POST", "/api/records/rec01/draft/files/metadata.jsonld/commit"),
        ("POST", "/api/records/rec01/draft/actions/publish"),
    ]


def test_a_draft_is_left_unpublished_on_request(tmp_path, server):
    done = upload(_bundle(tmp_path / "b"), server.url, TOKEN, publish=False)
    assert (done.published, done.link) == (False, f"{server.url}/uploads/rec01")
    assert not server.drafts["rec01"]["published"]
    assert ("POST", "/api/records/rec01/draft/actions/publish") not in server.calls


def test_a_refusal_names_the_call_and_the_instances_reason(tmp_path, server):
    with pytest.raises(UploadError, match=r"create the draft: POST .*/api/records answered 403: Permission denied"):
        upload(_bundle(tmp_path / "b"), server.url, "wrong-token")
    server.refuse_create = True
    with pytest.raises(UploadError, match="answered 400: A validation error occurred"):
        upload(_bundle(tmp_path / "c"), server.url, TOKEN)


def test_an_invalid_record_is_never_sent(tmp_path, server):
    bundle = _bundle(tmp_path / "b", sample={})  # no provider, no experiment: no creator
    with pytest.raises(ValueError, match="record not valid: metadata.creators: at least one creator is required"):
        upload(bundle, server.url, TOKEN)
    assert server.calls == []


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
    assert server.drafts["rec01"]["published"]


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
