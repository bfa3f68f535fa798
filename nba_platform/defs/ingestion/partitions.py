import dagster as dg

# One partition per season ('2021-22'). Dynamic, so a landed file for a new season adds its
# partition at ingest time (sensor or CLI) without a code change.
season_partitions = dg.DynamicPartitionsDefinition(name="season")

# Season-partitioned assets process every season of a run in one step (fewer steps on a
# cold build; each partition is still written as its own atomic file).
single_run = dg.BackfillPolicy.single_run()
