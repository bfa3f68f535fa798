"""Thresholds of the retraining sensor, configured per environment in settings."""

import dagster as dg


class RetrainingPolicy(dg.ConfigurableResource):
    # Drift is a report, not a trigger, unless enabled: consecutive real seasons drift as much as the threshold.
    drift_triggers_retraining: bool = False
    drift_share_threshold: float = 0.75  # share of drifted features in a new partition that asks for retraining
    skill_decay_margin: float = (
        0.01  # live Brier (last N games) above the champion's validation Brier by more than this
    )
    min_live_games: int = 100  # live skill over fewer games is too noisy to act on
