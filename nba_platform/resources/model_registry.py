"""Champion / challenger lifecycle on the MLflow registry (aliases), shared by the assets and the CLI.

- A newly trained game model becomes `challenger`; the very first one becomes `champion`
  directly (nothing to compare it with).
- `promote` moves `champion` to the challenger's version and removes `challenger`.
- Every champion change is appended to the registered model's `champion_history` tag (JSON),
  so `rollback` can restore the previous champion and the trail shows who served when and why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from nba_platform.resources.mlflow import GAME_MODEL_NAME, MlflowTracking, RegisteredVersion

CHAMPION, CHALLENGER = "champion", "challenger"
HISTORY_TAG = "champion_history"


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def champion_history(mlflow: MlflowTracking, name: str = GAME_MODEL_NAME) -> list[dict]:
    return json.loads(mlflow.model_tags(name).get(HISTORY_TAG, "[]"))


def _set_champion(mlflow: MlflowTracking, version: str, reason: str, name: str) -> None:
    history = champion_history(mlflow, name)
    history.append({"version": str(version), "at": _now(), "reason": reason[:300]})
    mlflow.set_alias(CHAMPION, version, name)
    # MLflow tag values are capped (5,000 chars): keep the most recent changes.
    while len(json.dumps(history)) > 4500:
        history.pop(0)
    mlflow.set_model_tag(HISTORY_TAG, json.dumps(history), name)
    mlflow.set_version_tags(version, {"champion_since": history[-1]["at"]}, name)


def register_trained_version(mlflow: MlflowTracking, version: str, name: str = GAME_MODEL_NAME) -> str:
    """Alias a newly registered version: champion if there is none yet, else challenger. Returns the alias."""
    if mlflow.version_by_alias(CHAMPION, name) is None:
        _set_champion(mlflow, version, "first registered model (no champion to compare with)", name)
        return CHAMPION
    mlflow.set_alias(CHALLENGER, version, name)
    return CHALLENGER


def promote(mlflow: MlflowTracking, version: str, reason: str, name: str = GAME_MODEL_NAME) -> None:
    _set_champion(mlflow, version, f"promoted: {reason}", name)
    challenger = mlflow.version_by_alias(CHALLENGER, name)
    if challenger is not None and challenger.version == str(version):
        mlflow.delete_alias(CHALLENGER, name)


def rollback(
    mlflow: MlflowTracking, to_version: str | None = None, name: str = GAME_MODEL_NAME
) -> tuple[RegisteredVersion, RegisteredVersion]:
    """Point `champion` back at the previous champion (or `to_version`, which must have been a
    champion before). Returns (replaced, restored)."""
    current = mlflow.version_by_alias(CHAMPION, name)
    if current is None:
        raise RuntimeError(f"{name} has no champion to roll back")
    earlier = [h["version"] for h in champion_history(mlflow, name) if h["version"] != current.version]
    if not earlier:
        raise RuntimeError(f"{name} v{current.version} is the only champion there has been; nothing to roll back to")
    target = str(to_version) if to_version is not None else earlier[-1]
    if target not in earlier:
        raise RuntimeError(f"{name} v{target} was never champion (earlier champions: {', '.join(earlier)})")
    _set_champion(mlflow, target, f"rollback from v{current.version}", name)
    return current, mlflow.version(target, name)


def champion_marks(mlflow: MlflowTracking, name: str = GAME_MODEL_NAME) -> dict:
    """Materialization metadata naming the champion and its last training season, which the
    retraining sensor's stale-champion rule reads from the event log (no MLflow in a tick)."""
    champion = mlflow.version_by_alias(CHAMPION, name)
    if champion is None:
        return {}
    return {
        "champion_after": champion.label,
        "champion_train_last_season": champion.tags.get("train_last_season", ""),
    }


def publish_champion(mlflow: MlflowTracking, serving_db, name: str = GAME_MODEL_NAME) -> int:
    """Append the current champion (version, trained seasons, validation Brier, since when and why)
    to the serving database's model_champions table, read by the forecast API. Idempotent: the same
    champion change is one row however often it is published."""
    import pandas as pd

    champion = mlflow.version_by_alias(CHAMPION, name)
    if champion is None:
        return 0
    changes = [h for h in champion_history(mlflow, name) if h["version"] == champion.version]
    last = changes[-1] if changes else {"at": _now(), "reason": ""}
    brier = champion.tags.get("validation_brier")
    row = {
        "model_name": name,
        "model_version": int(champion.version),
        "promoted_at": pd.Timestamp(last["at"]).tz_convert("UTC").tz_localize(None),
        "train_first_season": champion.tags.get("train_first_season"),
        "train_last_season": champion.tags.get("train_last_season"),
        "validation_brier": float(brier) if brier else None,
        "reason": last.get("reason", ""),
    }
    return serving_db.append("model_champions", pd.DataFrame([row]))
