"""Alert messages: what a run failure or a failed blocking check says, as an email and as a
Slack-compatible webhook payload. Pure Python (no Dagster): the sensors turn Dagster events into
plain values, these functions turn the values into text.

Every text that leaves here has gone through `scrub` (lib/secret_scrubbing.py): known secret
values (the caller passes them) and secret-looking patterns are replaced by `***`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from nba_platform.lib.secret_scrubbing import scrub


def truncate(text: str, limit: int) -> str:
    text = text or ""
    if len(text) <= limit:
        return text
    suffix = " ... [truncated]"
    return text[: max(limit - len(suffix), 0)].rstrip() + suffix


def run_url(base_url: str, run_id: str) -> str:
    return f"{base_url.rstrip('/')}/runs/{run_id}"


def asset_checks_url(base_url: str, asset_path: Sequence[str]) -> str:
    return f"{base_url.rstrip('/')}/assets/{'/'.join(quote(p, safe='') for p in asset_path)}?view=checks"


@dataclass(frozen=True)
class Alert:
    """One alert, channel-neutral. `fields` are short (label, value) pairs shown as a table;
    `details` is the longer text (error messages, check metadata)."""

    kind: str  # run_failure | failed_check
    title: str
    summary: str
    fields: tuple[tuple[str, str], ...] = ()
    details: str = ""
    links: tuple[tuple[str, str], ...] = ()  # (label, url)
    environment: str = "local"

    def scrubbed(self, secrets: Iterable[str | None]) -> Alert:
        secrets = list(secrets)
        return Alert(
            kind=self.kind,
            title=scrub(self.title, secrets),
            summary=scrub(self.summary, secrets),
            fields=tuple((scrub(k, secrets), scrub(v, secrets)) for k, v in self.fields),
            details=scrub(self.details, secrets),
            links=self.links,
            environment=self.environment,
        )


# ---------------------------------------------------------------- building alerts


@dataclass(frozen=True)
class StepFailure:
    step_key: str
    error: str  # the error message chain, no stack trace


MAX_ERROR_CHARS = 1500
MAX_STEPS_LISTED = 10


def error_chain(message: str | None, causes: Sequence[str] = ()) -> str:
    """'Outer message\\ncaused by: inner message' from an error and its causes (no stack traces)."""
    parts = [m.strip() for m in [message or "", *causes] if m and m.strip()]
    return "\ncaused by: ".join(parts)


def run_failure(
    job_name: str,
    run_id: str,
    steps: Sequence[StepFailure],
    run_error: str | None,
    ui_base_url: str,
    environment: str = "local",
    secrets: Iterable[str | None] = (),
) -> Alert:
    """A run failed: which job, which run, which steps, the error, where to look."""
    steps = list(steps)
    step_names = [s.step_key for s in steps]
    shown = ", ".join(step_names[:MAX_STEPS_LISTED]) + (
        f" (+{len(step_names) - MAX_STEPS_LISTED} more)" if len(step_names) > MAX_STEPS_LISTED else ""
    )
    # The most useful error is the first failed step's; the run-level message says "steps failed".
    first_error = next((s.error for s in steps if s.error), "") or (run_error or "")
    detail_parts = []
    for s in steps[:MAX_STEPS_LISTED]:
        detail_parts.append(f"[{s.step_key}]\n{truncate(s.error or '(no error message)', MAX_ERROR_CHARS)}")
    if run_error and (not steps or run_error not in first_error):
        detail_parts.append(f"[run]\n{truncate(run_error, MAX_ERROR_CHARS)}")
    headline = first_error.strip().splitlines()[-1] if first_error.strip() else "no error message recorded"
    alert = Alert(
        kind="run_failure",
        title=f"Run failed: {job_name}",
        summary=f"Run {run_id[:8]} of job `{job_name}` failed"
        + (f" in step {shown}" if len(step_names) == 1 else f" in steps {shown}" if step_names else "")
        + f": {truncate(headline, 300)}",
        fields=(
            ("Job", job_name),
            ("Run id", run_id),
            ("Failed steps", shown or "none (failed outside a step)"),
            ("Environment", environment),
        ),
        details="\n\n".join(detail_parts),
        links=(("Open run in Dagster", run_url(ui_base_url, run_id)),),
        environment=environment,
    )
    return alert.scrubbed(secrets)


MAX_METADATA_ENTRIES = 12
MAX_METADATA_VALUE_CHARS = 300
MAX_REPORT_CHARS = 1200


def summarize_metadata(metadata: Mapping[str, object]) -> list[tuple[str, str]]:
    """Check metadata as short (key, text) pairs: scalars as they are, lists/dicts as compact
    JSON, long text (e.g. a GX markdown report) cut. Order kept; at most 12 entries."""
    out: list[tuple[str, str]] = []
    for key, value in metadata.items():
        if len(out) >= MAX_METADATA_ENTRIES:
            out.append(("...", f"{len(metadata) - MAX_METADATA_ENTRIES} more metadata entries"))
            break
        if isinstance(value, bool) or value is None:
            text = str(value).lower()
        elif isinstance(value, (int, float)):
            text = f"{value:g}" if isinstance(value, float) else str(value)
        elif isinstance(value, (list, tuple, dict)):
            text = json.dumps(value, default=str, separators=(", ", ": "))
        else:
            text = str(value)
        limit = MAX_REPORT_CHARS if "\n" in text else MAX_METADATA_VALUE_CHARS
        out.append((str(key), truncate(text.strip(), limit)))
    return out


def failed_check(
    asset_path: Sequence[str],
    check_name: str,
    run_id: str | None,
    partition: str | None,
    metadata: Mapping[str, object],
    description: str | None,
    ui_base_url: str,
    severity: str = "ERROR",
    environment: str = "local",
    secrets: Iterable[str | None] = (),
) -> Alert:
    """A blocking asset check failed: which asset and check, in which run, and what its metadata says."""
    asset = "/".join(asset_path)
    summary_pairs = summarize_metadata(metadata)
    short = [(k, v) for k, v in summary_pairs if "\n" not in v]
    long = [(k, v) for k, v in summary_pairs if "\n" in v]
    headline = ", ".join(f"{k}={v}" for k, v in short[:6]) or "no metadata"
    fields = [("Asset", asset), ("Check", check_name), ("Severity", severity)]
    if partition:
        fields.append(("Partition", partition))
    if run_id:
        fields.append(("Run id", run_id))
    fields.append(("Environment", environment))
    details = []
    if description:
        details.append(f"Check: {description}")
    if short:
        details.append("Metadata:\n" + "\n".join(f"  {k}: {v}" for k, v in short))
    for k, v in long:
        details.append(f"{k}:\n{v}")
    links = [("Asset checks in Dagster", asset_checks_url(ui_base_url, asset_path))]
    if run_id:
        links.insert(0, ("Open run in Dagster", run_url(ui_base_url, run_id)))
    alert = Alert(
        kind="failed_check",
        title=f"Blocking check failed: {asset} / {check_name}",
        summary=f"Blocking check `{check_name}` on `{asset}` failed"
        + (f" (partition {partition})" if partition else "")
        + f": {truncate(headline, 300)}. "
        "Downstream assets of that run were not materialized.",
        fields=tuple(fields),
        details="\n\n".join(details),
        links=tuple(links),
        environment=environment,
    )
    return alert.scrubbed(secrets)


# ---------------------------------------------------------------- rendering


def email_subject(alert: Alert) -> str:
    return truncate(f"[nba_platform {alert.environment}] {alert.title}".replace("\n", " "), 200)


def email_body(alert: Alert) -> str:
    width = max((len(k) for k, _ in alert.fields), default=0)
    lines = [alert.summary, ""]
    lines += [f"{k.ljust(width)}  {v}" for k, v in alert.fields]
    if alert.links:
        lines.append("")
        lines += [f"{label}: {url}" for label, url in alert.links]
    if alert.details:
        lines += ["", alert.details]
    lines += ["", "-- nba_platform alerting (runbooks: docs/operations/runbooks.md)"]
    return "\n".join(lines) + "\n"


def _mrkdwn(text: str) -> str:
    """Slack mrkdwn escaping: only &, < and > are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


SLACK_SECTION_CHARS = 3000
SLACK_HEADER_CHARS = 150
SLACK_FIELDS_MAX = 10


def webhook_payload(alert: Alert) -> dict:
    """Slack-compatible incoming-webhook JSON: `text` is the notification fallback, `blocks`
    the rich message (header, summary, fields, details, links)."""
    blocks: list[dict] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(alert.title, SLACK_HEADER_CHARS), "emoji": False},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(_mrkdwn(alert.summary), SLACK_SECTION_CHARS)}},
    ]
    if alert.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": truncate(f"*{_mrkdwn(k)}*\n{_mrkdwn(v)}", 2000)}
                    for k, v in alert.fields[:SLACK_FIELDS_MAX]
                ],
            }
        )
    if alert.details:
        body = truncate(_mrkdwn(alert.details), SLACK_SECTION_CHARS - 8)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{body}```"}})
    if alert.links:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": " | ".join(f"<{url}|{_mrkdwn(label)}>" for label, url in alert.links)}
                ],
            }
        )
    text = f"[{alert.environment}] {alert.title}: {alert.summary}"
    return {"text": truncate(text, SLACK_SECTION_CHARS), "blocks": blocks}


@dataclass
class DeliveryReport:
    """What happened on each channel: sent | disabled | not configured | failed: <reason>."""

    channels: dict[str, str] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        return any(v == "sent" for v in self.channels.values())

    @property
    def failed(self) -> list[str]:
        return [k for k, v in self.channels.items() if v.startswith("failed")]

    def __str__(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.channels.items())
