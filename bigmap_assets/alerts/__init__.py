"""Alerts while experiments run: rules on the warehouse tables (``rules``), webhook payloads
(``payloads``) and their delivery (``webhooks``). No Dagster here: ``defs/alerts.py`` is the glue."""
