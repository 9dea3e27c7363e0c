"""Webhook targets (``kind=url``, whitespace-separated) and their delivery: one JSON POST per alert and target."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from .payloads import BUILDERS

ENV_VAR = "BIGMAP_ALERT_WEBHOOKS"


@dataclass(frozen=True)
class Webhook:
    kind: str  # json, slack or teams
    url: str


def parse_webhooks(text: str) -> list[Webhook]:
    """``"slack=https://hooks.slack.com/... teams=https://... json=http://..."``; a bare URL is ``json``.

    Raises ``ValueError`` naming the entry for an unknown kind or a URL that is not http(s).
    """
    hooks = []
    for entry in text.split():
        kind, sep, url = entry.partition("=")
        if not sep or kind.startswith("http"):
            kind, url = "json", entry
        if kind not in BUILDERS:
            raise ValueError(f"webhook {entry!r}: unknown kind {kind!r} (use {', '.join(BUILDERS)})")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"webhook {entry!r}: not an http(s) URL")
        hooks.append(Webhook(kind, url))
    return hooks


def deliver(hook: Webhook, record: dict, timeout_second: float = 10.0) -> str:
    """POST the alert to ``hook``; ``"<kind> <status>"`` or ``"<kind> error: <reason>"``, never raises."""
    body = json.dumps(BUILDERS[hook.kind](record), default=str).encode()
    request = urllib.request.Request(hook.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "bigmap-assets"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_second) as response:
            return f"{hook.kind} {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{hook.kind} error: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{hook.kind} error: {getattr(exc, 'reason', exc)}"
