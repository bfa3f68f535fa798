"""Structured run logs: with NBA_LOG_FORMAT=json every log record of a run reaches stdout as one
JSON object per line (run, job, step, asset key, partition), through the handler the instance's
dagster.yaml names (the same `python_logs` block as infra/dagster/dagster.yaml); with text the
handler is silent. The season spine of one landed season is the run."""

import json
import logging

import dagster as dg
import pytest
import yaml

from nba_platform.lib.secret_scrubbing import remember_secret
from nba_platform.observability.run_logs import PYTHON_LOGS_CONFIG, RunLogHandler
from nba_platform_tests.conftest import SAMPLE, embedded_resources
from nba_platform_tests.defs.helpers import materialize_seasons
from nba_platform_tests.integration.test_prod_mode import INFRA_DAGSTER_YAML, SPINE_KEYS

SEASON = "2022-23"
GAMELOG = "nba_api_league_gamelog_2021_2024/nba-gamelog-2022-23.csv.gz"


def json_lines(text: str) -> list[dict]:
    """Every non-empty line parsed as a JSON object (a line that is not one fails)."""
    out = []
    for line in text.splitlines():
        if line.strip():
            entry = json.loads(line)
            assert isinstance(entry, dict), line
            out.append(entry)
    return out


def test_the_instance_configs_name_the_handler(tmp_path, monkeypatch):
    assert yaml.safe_load(INFRA_DAGSTER_YAML.read_text())["python_logs"] == PYTHON_LOGS_CONFIG
    # the embedded home the CLI creates
    from nba_platform.cli.runs import get_instance

    monkeypatch.setenv("NBA_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    instance = get_instance()
    try:
        assert yaml.safe_load((tmp_path / "dagster" / "dagster.yaml").read_text())["python_logs"] == PYTHON_LOGS_CONFIG
        assert [type(h).__name__ for h in instance.get_handlers()][-1] == "RunLogHandler"
    finally:
        instance.dispose()


class CapturedStream:
    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return "".join(self.parts)


def test_run_logs_are_json_lines_with_run_job_step_asset_and_partition(tmp_path, monkeypatch, capsys):
    resources = embedded_resources(tmp_path, include_sample=False)
    (tmp_path / "landing" / "nba-gamelog-2022-23.csv.gz").write_bytes((SAMPLE / GAMELOG).read_bytes())
    monkeypatch.setenv("NBA_LOG_FORMAT", "json")
    with dg.instance_for_test(overrides={"python_logs": PYTHON_LOGS_CONFIG}) as instance:
        capsys.readouterr()
        result = materialize_seasons([SEASON], resources, instance)
        stdout = capsys.readouterr().out  # the handler writes to sys.stdout: nothing else may
    assert result.success
    lines = json_lines(stdout)
    assert len(lines) > 50
    for entry in lines:
        assert {"timestamp", "level", "message", "run_id", "job"} <= set(entry), entry
        assert entry["run_id"] == result.run_id and entry["job"] == result.job_def.name
        assert entry["timestamp"].endswith("Z") and entry["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        assert entry["partition"] == SEASON, entry
    in_steps = [e for e in lines if "step" in e]
    assert in_steps and all("asset_key" in e or "asset_keys" in e for e in in_steps), [
        e for e in in_steps if "asset_key" not in e and "asset_keys" not in e
    ][:3]
    # every asset of the spine is named by the lines of its step, and by its materialization
    materialized = {e["asset_key"] for e in lines if e.get("event_type") == "ASSET_MATERIALIZATION"}
    assert set(SPINE_KEYS) <= materialized, materialized
    named = {e.get("asset_key") for e in in_steps} | {k for e in in_steps for k in e.get("asset_keys", [])}
    assert set(SPINE_KEYS) <= named
    # a multi-asset step (validated table + its quarantine) lists both
    validated = [e for e in in_steps if e["step"] == "team_games_validated" and e.get("event_type") == "STEP_START"]
    assert validated and {"tables/team_games_validated", "quarantine/team_games"} <= set(validated[0]["asset_keys"])
    assert {e["event_type"] for e in lines if "event_type" in e} >= {
        "PIPELINE_START",
        "STEP_START",
        "STEP_SUCCESS",
        "PIPELINE_SUCCESS",
    }


def test_text_format_leaves_the_handler_silent(monkeypatch):
    monkeypatch.setenv("NBA_LOG_FORMAT", "text")
    stream = CapturedStream()
    handler = RunLogHandler(stream=stream)
    handler.emit(logging.LogRecord("nba_platform.x", logging.WARNING, __file__, 1, "hello", None, None))
    assert stream.getvalue() == ""
    monkeypatch.setenv("NBA_LOG_FORMAT", "json")
    handler = RunLogHandler(stream=stream)
    handler.emit(logging.LogRecord("nba_platform.x", logging.WARNING, __file__, 1, "hello", None, None))
    [entry] = json_lines(stream.getvalue())
    assert entry["message"] == "hello" and entry["level"] == "WARNING" and entry["logger"] == "nba_platform.x"


def test_log_format_setting(monkeypatch):
    from nba_platform.settings import load_log_format

    for key in ("NBA_LOG_FORMAT", "NBA_PLATFORM_ENV"):
        monkeypatch.delenv(key, raising=False)
    assert load_log_format() == "text"
    monkeypatch.setenv("NBA_PLATFORM_ENV", "prod")
    assert load_log_format() == "json"
    monkeypatch.setenv("NBA_LOG_FORMAT", "TEXT")
    assert load_log_format() == "text"
    monkeypatch.setenv("NBA_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="NBA_LOG_FORMAT"):
        load_log_format()


def test_a_remembered_secret_is_scrubbed_from_a_record_and_its_exception(monkeypatch):
    monkeypatch.setenv("NBA_LOG_FORMAT", "json")
    secret = "tok-3f9a1c77e2b54d0c"
    remember_secret(secret)
    stream = CapturedStream()
    handler = RunLogHandler(stream=stream)
    try:
        raise RuntimeError(f"connect to postgresql://app:{secret}@db:5432/x failed (password {secret})")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "nba_platform.x", logging.ERROR, __file__, 1, "failed with %s", (secret,), sys.exc_info()
        )
    handler.emit(record)
    [entry] = json_lines(stream.getvalue())
    assert secret not in stream.getvalue()
    assert entry["message"] == "failed with ***" and "RuntimeError" in entry["error"] and "***" in entry["error"]
