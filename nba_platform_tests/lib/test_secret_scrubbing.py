import json

import pytest

from nba_platform.lib.json_logs import json_log_line, partition_from_tags
from nba_platform.lib.secret_scrubbing import (
    SecretScrubbedError,
    exceptions_scrubbed,
    known_secrets,
    redact,
    remember_secret,
)


def test_remembered_values_are_redacted_everywhere_they_appear():
    remember_secret("pw-0d6b2f19c4a7")
    remember_secret("abc")  # too short to scrub by value: it would mangle ordinary words
    remember_secret(None)
    assert "pw-0d6b2f19c4a7" in known_secrets() and "abc" not in known_secrets()
    assert redact("login with pw-0d6b2f19c4a7 failed") == "login with *** failed"
    assert redact("postgresql://app:pw-0d6b2f19c4a7@db/x") == "postgresql://***:***@db/x"
    assert redact("quoted pw-0d6b2f19c4a7%21", extra=["pw-0d6b2f19c4a7!"]) == "quoted ***"


def test_an_error_holding_a_secret_is_replaced_without_its_chain():
    secret = "s3cr3t-4c1d9e7b"
    with pytest.raises(SecretScrubbedError) as caught:
        with exceptions_scrubbed(secret):
            try:
                raise KeyError("inner")
            except KeyError:
                raise ValueError(f"bad URI 'postgres://u:{secret}@h/db'")  # noqa: B904 (the chained context is what is scrubbed)
    error = caught.value
    assert str(error) == "ValueError: bad URI 'postgres://***:***@h/db'"
    assert error.__cause__ is None and error.__suppress_context__


def test_an_error_without_a_secret_passes_through_unchanged():
    with pytest.raises(ConnectionRefusedError, match="port 1"):
        with exceptions_scrubbed("s3cr3t-4c1d9e7b"):
            raise ConnectionRefusedError("port 1 refused")
    with exceptions_scrubbed(None):
        pass


def test_a_secret_only_in_the_cause_still_replaces_the_error():
    secret = "s3cr3t-99e0aa51"
    with pytest.raises(SecretScrubbedError, match="RuntimeError: wrapped"):
        with exceptions_scrubbed(secret):
            try:
                raise OSError(f"dsn password={secret}")
            except OSError as exc:
                raise RuntimeError("wrapped") from exc


def test_partition_from_run_tags():
    assert partition_from_tags({"dagster/partition": "2022-23"}) == "2022-23"
    assert (
        partition_from_tags(
            {"dagster/asset_partition_range_start": "2021-22", "dagster/asset_partition_range_end": "2023-24"}
        )
        == "2021-22...2023-24"
    )
    assert (
        partition_from_tags(
            {"dagster/asset_partition_range_start": "2022-23", "dagster/asset_partition_range_end": "2022-23"}
        )
        == "2022-23"
    )
    assert partition_from_tags({}) is None and partition_from_tags(None) is None


def test_json_log_line_fields_order_and_scrubbing():
    line = json_log_line(
        created=0.25,
        level="ERROR",
        message="token=abc123 failed",
        run_id="r1",
        job="j",
        step="s",
        asset_keys=["tables/a", "quarantine/a"],
        partition="2022-23",
        event_type="STEP_FAILURE",
        error="boom with hunter22-xyz",
        secrets=["hunter22-xyz"],
    )
    entry = json.loads(line)
    assert list(entry) == [
        "timestamp",
        "level",
        "message",
        "run_id",
        "job",
        "step",
        "asset_keys",
        "partition",
        "event_type",
        "error",
    ]
    assert entry["timestamp"] == "1970-01-01T00:00:00.250Z"
    assert entry["message"] == "token=*** failed" and entry["error"] == "boom with ***"
    assert entry["asset_keys"] == ["tables/a", "quarantine/a"] and "asset_key" not in entry
    one = json.loads(json_log_line(created=0, level="INFO", message="m", asset_keys=["tables/a"]))
    assert one["asset_key"] == "tables/a" and "asset_keys" not in one
    event = json.loads(
        json_log_line(
            created=0,
            level="INFO",
            message="m",
            asset_keys=["tables/a", "quarantine/a"],
            event_asset_key="quarantine/a",
        )
    )
    assert event["asset_key"] == "quarantine/a"
