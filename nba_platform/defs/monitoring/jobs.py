import dagster as dg

# Per-partition drift is for *new* data (landing sensor, ingest), not for a cold rebuild of history:
# each report is a full Evidently run (~10 s and ~10 MB of HTML per season).
FEATURE_DRIFT = dg.AssetSelection.assets(dg.AssetKey(["monitoring", "feature_drift"]))

# Drift runs after a season's update, in its own run (monitoring/sensors.py requests it when
# `season_update` succeeds): fresh predictions don't wait for Evidently's import and report
# (~20 s of a ~30 s update), and a failed report doesn't hold back what was published.
season_drift_job = dg.define_asset_job(
    name="season_drift",
    selection=FEATURE_DRIFT,
    description="Evidently drift report of the run's season partition(s) against the champion's training data; "
    "requested after every successful `season_update` (its metadata feeds the retraining sensor).",
)
