"""moto's standalone S3 server on localhost, started by the tests (a real HTTP S3 endpoint)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bigmap-test", "AWS_SECRET_ACCESS_KEY": "bigmap-test",
               "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true", "AWS_EC2_METADATA_DISABLED": "true"}


@contextmanager
def s3_server() -> Iterator[str]:
    """Start ``python -m moto.server`` on a free port; yields its endpoint URL, stops it after."""
    pytest.importorskip("moto.server", reason="moto[server] is in the test extra")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"moto server exited with status {process.returncode}")
                time.sleep(0.05)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def new_bucket(endpoint: str) -> str:
    """Create an empty bucket with a fresh name; returns the name."""
    name = f"lake-{uuid.uuid4().hex[:12]}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{name}", method="PUT"))
    return name


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """One local S3 server for the session (import this fixture into a test module to use it)."""
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_lake(s3_endpoint, monkeypatch) -> str:
    """An ``s3://`` lake location in a new bucket, with the ``AWS_*`` environment pointing at the server."""
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    return f"s3://{new_bucket(s3_endpoint)}/lake"
