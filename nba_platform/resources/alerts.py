"""AlertNotifier: delivers an alert by email (SMTP) and to a Slack-compatible webhook.

Secrets (the SMTP password, the webhook URL: a Slack webhook URL is a credential) come only from
the Secrets resource, are used only to talk to the server, and are scrubbed from everything this
resource writes: the messages, its log lines and the delivery report. Each channel is
independent: a disabled, unconfigured or failing channel never stops the other, and `send`
never raises for a delivery problem.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import dagster as dg
from pydantic import Field

from nba_platform.lib.alerts import (
    Alert,
    DeliveryReport,
    email_body,
    email_subject,
    run_url,
    truncate,
    webhook_payload,
)
from nba_platform.lib.secret_scrubbing import scrub
from nba_platform.resources.secrets import Secrets

logger = logging.getLogger(__name__)

SMTP_PASSWORD_KEY = "nba_alert_smtp_password"  # env NBA_ALERT_SMTP_PASSWORD locally
WEBHOOK_URL_KEY = "nba_alert_webhook_url"  # env NBA_ALERT_WEBHOOK_URL locally
# Credentials that may sit in the process environment and must never be echoed in an alert.
ENV_CREDENTIALS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD")


class AlertNotifier(dg.ConfigurableResource):
    """Email over SMTP (optional STARTTLS and login) and a Slack-compatible webhook POST."""

    secrets: Secrets
    environment: str = "local"
    ui_base_url: str = Field(default="http://127.0.0.1:3000", description="Dagster UI base URL for run links")

    email_enabled: bool = True
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_ca_file: str | None = Field(default=None, description="CA bundle to trust for STARTTLS (private relay)")
    smtp_username: str | None = None
    smtp_password_key: str = SMTP_PASSWORD_KEY
    email_from: str = "nba-platform@localhost"
    email_to: list[str] = Field(default_factory=list)

    webhook_enabled: bool = True
    webhook_url_key: str = WEBHOOK_URL_KEY

    scrub_secret_keys: list[str] = Field(
        default_factory=list, description="further secret keys whose values are scrubbed"
    )
    timeout_seconds: float = 10.0

    # ------------------------------------------------------------ secrets

    def _secret(self, key: str | None) -> str | None:
        """The secret's value, or None if unset. A lookup error is reported by key, never value."""
        if not key:
            return None
        try:
            value = self.secrets.get_optional(key)
        except Exception as exc:  # e.g. Secrets Manager unreachable: the message names no value
            logger.warning("alerting: could not read secret %r (%s)", key, type(exc).__name__)
            return None
        return value or None

    def secret_values(self) -> list[str]:
        """Every secret value this resource knows of, for scrubbing: its own secrets, the
        `scrub_secret_keys`, and credentials a process may hold in its environment."""
        keys = [self.smtp_password_key, self.webhook_url_key, *self.scrub_secret_keys]
        values = [self._secret(k) for k in keys] + [os.environ.get(v) for v in ENV_CREDENTIALS]
        return [v for v in values if v]

    # ------------------------------------------------------------ channels

    def email_configured(self) -> bool:
        return bool(self.email_enabled and self.smtp_host and [a for a in self.email_to if a.strip()])

    def webhook_configured(self) -> bool:
        return bool(self.webhook_enabled and self._secret(self.webhook_url_key))

    def channel_status(self) -> dict[str, str]:
        """'configured' | 'disabled' | 'not configured' per channel (no delivery attempted)."""
        email = (
            "configured" if self.email_configured() else ("disabled" if not self.email_enabled else "not configured")
        )
        hook = (
            "configured"
            if self.webhook_configured()
            else ("disabled" if not self.webhook_enabled else "not configured")
        )
        return {"email": email, "webhook": hook}

    def run_url(self, run_id: str) -> str:
        return run_url(self.ui_base_url, run_id)

    # ------------------------------------------------------------ delivery

    def send(self, alert: Alert, log: logging.Logger | None = None) -> DeliveryReport:
        """Deliver `alert` on every configured channel; returns what happened on each. Never raises
        for a delivery failure, and no secret value reaches the messages, the log or the report."""
        log = log or logger
        secrets = self.secret_values()
        alert = alert.scrubbed(secrets)
        report = DeliveryReport()

        report.channels["email"] = self._deliver(
            "email", self.email_enabled, self.email_configured(), lambda: self._send_email(alert, secrets), secrets, log
        )
        webhook_url = self._secret(self.webhook_url_key) if self.webhook_enabled else None
        report.channels["webhook"] = self._deliver(
            "webhook",
            self.webhook_enabled,
            bool(webhook_url),
            lambda: self._post_webhook(alert, webhook_url),
            secrets,
            log,
        )
        summary = f"alert '{scrub(alert.title, secrets)}': {report}"
        if report.failed:
            log.error(summary)
        else:
            log.info(summary)
        return report

    @staticmethod
    def _deliver(name, enabled, configured, action, secrets, log) -> str:
        if not enabled:
            return "disabled"
        if not configured:
            return "not configured"
        try:
            action()
            return "sent"
        except Exception as exc:  # one channel failing never stops the other
            reason = truncate(scrub(f"{type(exc).__name__}: {exc}", secrets), 300)
            log.error(f"alerting: {name} delivery failed: {reason}")
            return f"failed: {reason}"

    def _send_email(self, alert: Alert, secrets: list[str]) -> None:
        recipients = [a.strip() for a in self.email_to if a.strip()]
        msg = EmailMessage()
        msg["Subject"] = scrub(email_subject(alert), secrets)
        msg["From"] = self.email_from
        msg["To"] = ", ".join(recipients)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="nba-platform")
        msg["X-NBA-Alert-Kind"] = alert.kind
        msg.set_content(scrub(email_body(alert), secrets))
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_seconds) as smtp:
            smtp.ehlo()
            if self.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=self.smtp_ca_file))
                smtp.ehlo()
            if self.smtp_username:
                password = self._secret(self.smtp_password_key)
                if password is None:
                    raise RuntimeError(f"smtp_username is set but secret {self.smtp_password_key!r} is not")
                smtp.login(self.smtp_username, password)
            smtp.send_message(msg, from_addr=self.email_from, to_addrs=recipients)

    def _post_webhook(self, alert: Alert, url: str) -> None:
        payload = webhook_payload(alert)
        body = json.dumps(payload).encode("utf-8")  # built from the scrubbed alert
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "nba-platform-alerts"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            # HTTPError carries the URL (a secret): report the status only.
            raise WebhookError(f"webhook answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            raise WebhookError(f"webhook unreachable ({type(exc.reason).__name__}: {exc.reason})") from None
        if not 200 <= status < 300:
            raise WebhookError(f"webhook answered HTTP {status}")


class WebhookError(RuntimeError):
    pass
