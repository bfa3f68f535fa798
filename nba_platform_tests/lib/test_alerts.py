"""Alert message formatting and secret scrubbing (pure functions)."""

import json

from nba_platform.lib import alerts as msg
from nba_platform.lib.secret_scrubbing import scrub

WEBHOOK = "https://hooks.slack.com/services/T0001/B0002/abcDEF123ghiJKL456"
PASSWORD = "pw-7f3a9c2e"


def test_scrub_known_values_and_patterns():
    text = (
        f"failed posting to {WEBHOOK} with {PASSWORD}; "
        "db postgresql://app:hunter2@db:5432/nba; password=letmein api_key: 'abc123' "
        "Authorization: Bearer eyJhbGciOi.x.y AKIAIOSFODNN7EXAMPLE xoxb-123-456-abc"
    )
    out = scrub(text, [PASSWORD, WEBHOOK, None, ""])
    for secret in (
        WEBHOOK,
        "abcDEF123ghiJKL456",
        PASSWORD,
        "hunter2",
        "letmein",
        "abc123",
        "eyJhbGciOi",
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-123",
    ):
        assert secret not in out, secret
    assert "postgresql://***:***@db:5432/nba" in out
    assert "password=***" in out


def test_scrub_catches_the_token_part_and_quoted_forms_of_a_secret_url():
    hook = "http://127.0.0.1:8080/hook/s3cr3t-token-value"
    out = scrub(
        "POST /hook/s3cr3t-token-value -> 500; url=http%3A%2F%2F127.0.0.1%3A8080%2Fhook%2Fs3cr3t-token-value", [hook]
    )
    assert "s3cr3t-token-value" not in out


def test_scrub_leaves_ordinary_text_alone():
    text = "Run 1a2b3c4d of job season_tables failed: ValueError: pts out of range (rows=12, failures=2)"
    assert scrub(text, ["ab", None]) == text  # too-short secrets are not scrubbed by value


def test_run_failure_alert_names_job_run_steps_error_and_link():
    steps = [
        msg.StepFailure(
            "tables__team_games",
            msg.error_chain(
                'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "tables__team_games":',
                [f"ValueError: cannot reach {WEBHOOK}"],
            ),
        )
    ]
    alert = msg.run_failure(
        "season_tables",
        "0f1e2d3c-aaaa-bbbb-cccc-111122223333",
        steps,
        "Execution of run for \"season_tables\" failed. Steps failed: ['tables__team_games'].",
        "http://ui.example:3000/",
        environment="prod",
        secrets=[WEBHOOK],
    )
    assert alert.title == "Run failed: season_tables"
    assert "ValueError: cannot reach ***" in alert.summary and "tables__team_games" in alert.summary
    assert ("Run id", "0f1e2d3c-aaaa-bbbb-cccc-111122223333") in alert.fields
    assert alert.links == (("Open run in Dagster", "http://ui.example:3000/runs/0f1e2d3c-aaaa-bbbb-cccc-111122223333"),)
    body = msg.email_body(alert)
    assert "caused by: ValueError" in body and WEBHOOK not in body
    assert msg.email_subject(alert) == "[nba_platform prod] Run failed: season_tables"


def test_run_failure_without_steps_uses_the_run_error():
    alert = msg.run_failure("build_all", "r1", [], "DagsterResourceFunctionError: lake unreachable", "http://x")
    assert "failed outside a step" in dict(alert.fields)["Failed steps"]
    assert "lake unreachable" in alert.summary and "[run]" in alert.details


def test_failed_check_alert_summarises_metadata():
    report = "## team_games_validated\n" + "\n".join(
        f"- expect_column_values_to_be_between(pts) row {i}" for i in range(200)
    )
    alert = msg.failed_check(
        ["tables", "team_games_validated"],
        "team_games_validated_contract",
        "run-9",
        None,
        {
            "rows": 2,
            "expectations": 31,
            "failures": 1,
            "report": report,
            "missing_sample": ["f.csv row 3"],
            "ok": False,
        },
        "GX suite: schema, ids, ranges.",
        "http://127.0.0.1:3000",
    )
    assert alert.title == "Blocking check failed: tables/team_games_validated / team_games_validated_contract"
    assert "rows=2, expectations=31, failures=1" in alert.summary
    assert 'missing_sample: ["f.csv row 3"]' in alert.details and "ok: false" in alert.details
    assert "[truncated]" in alert.details and len(alert.details) < 2000
    assert (
        "Asset checks in Dagster",
        "http://127.0.0.1:3000/assets/tables/team_games_validated?view=checks",
    ) in alert.links


def test_summarize_metadata_caps_entries_and_lengths():
    pairs = msg.summarize_metadata({f"k{i}": "x" * 1000 for i in range(20)})
    assert len(pairs) == msg.MAX_METADATA_ENTRIES + 1 and pairs[-1][0] == "..."
    assert all(len(v) <= msg.MAX_METADATA_VALUE_CHARS for _, v in pairs)
    assert msg.summarize_metadata({"f": 0.5, "n": None}) == [("f", "0.5"), ("n", "none")]


def test_webhook_payload_is_slack_shaped_and_escaped():
    alert = msg.run_failure("job<a&b>", "r1", [msg.StepFailure("s", "KeyError: <x>")], None, "http://ui")
    payload = msg.webhook_payload(alert)
    assert set(payload) == {"text", "blocks"} and "job<a&b>" in payload["text"]
    json.dumps(payload)
    types = [b["type"] for b in payload["blocks"]]
    assert types == ["header", "section", "section", "section", "context"]
    assert payload["blocks"][0]["text"]["type"] == "plain_text"
    fields = payload["blocks"][2]["fields"]
    assert fields[0]["text"] == "*Job*\njob&lt;a&amp;b&gt;" and len(fields) <= 10
    assert (
        payload["blocks"][3]["text"]["text"].startswith("```")
        and "KeyError: &lt;x&gt;" in payload["blocks"][3]["text"]["text"]
    )
    assert payload["blocks"][4]["elements"][0]["text"] == "<http://ui/runs/r1|Open run in Dagster>"
    long = msg.run_failure("j", "r", [msg.StepFailure("s", "e" * 10_000)], None, "http://ui")
    for block in msg.webhook_payload(long)["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= msg.SLACK_SECTION_CHARS


def test_delivery_report():
    r = msg.DeliveryReport({"email": "sent", "webhook": "failed: WebhookError: webhook answered HTTP 500"})
    assert r.delivered and r.failed == ["webhook"]
    assert str(r) == "email: sent, webhook: failed: WebhookError: webhook answered HTTP 500"
    assert not msg.DeliveryReport({"email": "disabled", "webhook": "not configured"}).delivered
