"""What a webhook receives for one alert record (a row of the ``alerts`` table as a dict).

- ``json``: the record itself, values decoded (any receiver that takes a JSON POST);
- ``slack``: a Slack incoming-webhook message (``text`` fallback + Block Kit section and context, at most
  10 context elements as Slack allows);
- ``teams``: a Microsoft Teams (Workflows / incoming webhook) message carrying an Adaptive Card 1.4.
"""

from __future__ import annotations

import json


def generic(record: dict) -> dict:
    body = {k: v for k, v in record.items() if k not in ("values_json", "delivery")}
    body["values"] = json.loads(record["values_json"] or "{}")
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in body.items()}


def slack(record: dict) -> dict:
    title = _title(record)
    text = f"*{_slack_escape(title)}*\n{_slack_escape(record['message'])}"
    if record.get("link"):
        text += f"\n<{_slack_escape(record['link'])}|Open {_slack_escape(record['asset_key'])} in Dagster>"
    facts = [{"type": "mrkdwn", "text": _slack_escape(f"{name}: {value}")} for name, value in _facts(record)][:10]
    return {
        "text": f"{title}: {record['message']}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
                   {"type": "context", "elements": facts}],
    }


def teams(record: dict) -> dict:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": _title(record), "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": record["message"], "wrap": True},
            {"type": "FactSet", "facts": [{"title": name, "value": str(value)} for name, value in _facts(record)]},
        ],
    }
    if record.get("link"):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Dagster", "url": record["link"]}]
    return {"type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                             "content": card}]}


BUILDERS = {"json": generic, "slack": slack, "teams": teams}


def _title(record: dict) -> str:
    rule = record["rule"].replace("_", " ")
    return f"bigmap alert: {rule}" + (f" ({record['sample_id']})" if record.get("sample_id") else "")


def _facts(record: dict) -> list[tuple[str, str]]:
    facts = [("sample", record.get("sample_id") or "-"), ("asset", record["asset_key"])]
    facts += [(name, value) for name, value in json.loads(record["values_json"] or "{}").items() if value is not None]
    return facts


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
