"""Archive bundles for the BIG-MAP Archive (an InvenioRDM instance): BattINFO JSON-LD and an InvenioRDM
record per sample and technique, a dry-run validator, an upload client, and notebook entries. No Dagster."""
