"""Alerting end to end: a REAL SMTP server (aiosmtpd, STARTTLS + AUTH on a free loopback port)
and a REAL HTTP server (http.server in a thread) receive what the sensors send, for a run that
really failed and a blocking check that really failed in a run. Secrets never reach the
messages, the delivery reports or the logs."""

import datetime as dt
import email
import email.policy
import ipaddress
import json
import logging
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from nba_platform.defs.ops.alerts import failed_check_alert, run_failure_alert
from nba_platform.resources.alerts import AlertNotifier
from nba_platform.resources.secrets import Secrets
from nba_platform_tests.integration.conftest import free_port
from nba_platform_tests.lake_files import write_lake

pytestmark = pytest.mark.integration

SMTP_USER = "alerts@nba.test"
SMTP_PASSWORD = "smtp-pw-5b1d9e27c4"
WEBHOOK_TOKEN = "T01ABCD/B02EFGH/xyzzy0secret0token"


# ---------------------------------------------------------------- real servers


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class _Mailbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == SMTP_USER
            and auth_data.password.decode() == SMTP_PASSWORD
        )
        self.logins.append(f"{mechanism}:{'ok' if ok else 'refused'}")
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 235 / 535


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory):
    """aiosmtpd on a free loopback port: STARTTLS required, AUTH only over TLS."""
    cert, key = _self_signed_cert(tmp_path_factory.mktemp("smtp_tls"))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(cert), str(key))
    box = _Mailbox()
    port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=box.authenticate,
        auth_require_tls=True,
        ready_timeout=10,
    )
    controller.start()
    yield {"port": port, "box": box, "ca_file": str(cert)}
    controller.stop()


class _HookHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status = 500 if self.path.startswith("/broken/") else 200
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"server error")

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture(scope="module")
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HookHandler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def servers(smtp_server, http_server, monkeypatch):
    """Both servers, emptied; the secrets set as the Secrets resource reads them locally."""
    smtp_server["box"].messages.clear()
    smtp_server["box"].raw.clear()
    smtp_server["box"].logins.clear()
    http_server.received.clear()
    hook_url = f"http://127.0.0.1:{http_server.server_port}/hook/{WEBHOOK_TOKEN}"
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NBA_ALERT_WEBHOOK_URL", hook_url)
    monkeypatch.setenv("NBA_ALERT_SMTP_PASSWORD", SMTP_PASSWORD)
    return {"smtp": smtp_server, "http": http_server, "hook_url": hook_url}


def notifier(servers, **overrides) -> AlertNotifier:
    config = dict(
        secrets=Secrets(source="env"),
        smtp_host="127.0.0.1",
        smtp_port=servers["smtp"]["port"],
        smtp_starttls=True,
        smtp_ca_file=servers["smtp"]["ca_file"],
        smtp_username=SMTP_USER,
        email_from="nba-platform@nba.test",
        email_to=["oncall@nba.test", "data@nba.test"],
        ui_base_url="http://dagster.nba.test:3000",
        timeout_seconds=5,
    )
    config.update(overrides)
    return AlertNotifier(**config)


def webhook_bodies(servers) -> list[dict]:
    return [json.loads(r["body"]) for r in servers["http"].received]


def everything_that_arrived(servers) -> str:
    mail = b"\n".join(servers["smtp"]["box"].raw).decode("utf-8", "replace")
    hooks = "\n".join(r["body"].decode() for r in servers["http"].received)
    return mail + "\n" + hooks


# ---------------------------------------------------------------- a run that fails


def failed_run(instance, error_text: str):
    @dg.asset(name="exploding_asset")
    def exploding_asset():
        raise ValueError(error_text)

    result = dg.materialize([exploding_asset], instance=instance, raise_on_error=False)
    assert not result.success
    return result


def evaluate_run_failure_sensor(instance, result, notifier_resource):
    with dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"alert_notifier": notifier_resource},
    ) as context:  # a context manager: the notifier's nested Secrets resource is opened inside
        return run_failure_alert(context)


def test_run_failure_alert_arrives_by_email_and_webhook(instance, servers):
    result = failed_run(instance, "season feed returned 503 for 2023-24")
    run_id = result.run_id
    evaluate_run_failure_sensor(instance, result, notifier(servers))

    box = servers["smtp"]["box"]
    assert box.logins == ["PLAIN:ok"] or box.logins == ["LOGIN:ok"]  # AUTH happened, over STARTTLS
    assert len(box.messages) == 1
    mail = box.messages[0]
    assert mail["Subject"] == "[nba_platform local] Run failed: __ephemeral_asset_job__"
    assert mail["To"] == "oncall@nba.test, data@nba.test" and mail["X-NBA-Alert-Kind"] == "run_failure"
    body = mail.get_content()
    assert run_id in body and "exploding_asset" in body
    assert "ValueError: season feed returned 503 for 2023-24" in body
    assert f"http://dagster.nba.test:3000/runs/{run_id}" in body

    [hook] = servers["http"].received
    assert hook["path"] == f"/hook/{WEBHOOK_TOKEN}" and hook["headers"]["Content-Type"].startswith("application/json")
    payload = json.loads(hook["body"])
    assert "__ephemeral_asset_job__" in payload["text"] and "season feed returned 503" in payload["text"]
    fields = {f["text"].split("\n")[0].strip("*"): f["text"].split("\n", 1)[1] for f in payload["blocks"][2]["fields"]}
    assert fields["Run id"] == run_id and fields["Failed steps"] == "exploding_asset"
    assert f"<http://dagster.nba.test:3000/runs/{run_id}|Open run in Dagster>" in json.dumps(payload)


# ---------------------------------------------------------------- a blocking check that fails in a real run


def test_failed_blocking_check_alerts_exactly_once(tmp_path, instance, servers, monkeypatch):
    """The crafted bad validated partition of test_checks.py fails the real blocking GX contract
    in a real run; the sensor, bound through the environment's resources, alerts once."""
    from nba_platform.resources.landing import LandingZone
    from nba_platform_tests.defs.helpers import check_results, materialize_seasons
    from nba_platform_tests.defs.test_checks import good_game

    # The embedded default, configured by environment variables only (as the README documents).
    monkeypatch.setenv("NBA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NBA_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("NBA_ALERT_SMTP_PORT", str(servers["smtp"]["port"]))
    monkeypatch.setenv("NBA_ALERT_SMTP_CA_FILE", servers["smtp"]["ca_file"])
    monkeypatch.setenv("NBA_ALERT_SMTP_USERNAME", SMTP_USER)
    monkeypatch.setenv("NBA_ALERT_EMAIL_TO", "oncall@nba.test")
    monkeypatch.setenv("NBA_UI_BASE_URL", "http://dagster.nba.test:3000")
    from nba_platform.definitions import defs
    from nba_platform.resources.environment import build_resources

    definitions = defs()

    # Every resource of the embedded default, under the temp NBA_HOME, without the shipped sample.
    resources = {**build_resources(), "landing": LandingZone(uri=str(tmp_path / "landing"), include_sample=False)}
    lake = resources["io_manager"]
    assert str(tmp_path) in lake.root
    bad = good_game()
    bad.loc[0, "team_id"] = 42  # not an NBA franchise
    write_lake(lake.root, "tables/team_games_validated", bad, season="2023-24")
    check_key = dg.AssetCheckKey(dg.AssetKey(["tables", "team_games_validated"]), "team_games_validated_contract")
    selection = dg.AssetSelection.checks(check_key) | dg.AssetSelection.assets(
        dg.AssetKey(["tables", "team_games"]), dg.AssetKey(["quarantine", "team_games_dedup"])
    )
    result = materialize_seasons(["2023-24"], resources, instance, selection=selection, raise_on_error=False)
    assert check_results(result) == {"team_games_validated_contract": False}

    # The notifier the code location binds (configured above by environment variables only);
    # direct invocation does not pull resources from `definitions`, so it is passed explicitly.
    bound = definitions.resources["alert_notifier"]
    assert bound.smtp_port == servers["smtp"]["port"] and bound.email_to == ["oncall@nba.test"]

    def evaluate(cursor):
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=definitions, resources={"alert_notifier": bound}
        ) as context:
            return failed_check_alert(context)

    first = evaluate(None)
    assert len(servers["smtp"]["box"].messages) == 1 and len(servers["http"].received) == 1
    mail = servers["smtp"]["box"].messages[0]
    assert mail["Subject"] == (
        "[nba_platform local] Blocking check failed: tables/team_games_validated / team_games_validated_contract"
    )
    body = mail.get_content()
    assert "team_id" in body  # the GX report names the failing column
    assert "failures=" in body and "rows=2" in body and result.run_id in body
    assert "http://dagster.nba.test:3000/assets/tables/team_games_validated?view=checks" in body
    payload = webhook_bodies(servers)[0]
    assert "team_games_validated_contract" in payload["text"] and "tables/team_games_validated" in payload["text"]

    second = evaluate(first.cursor)
    assert len(servers["smtp"]["box"].messages) == 1 and len(servers["http"].received) == 1
    # team_games' own checks were planned but never ran (blocked upstream): remembered as pending
    # on the first tick, dropped on the second since their run has ended. The failed check's own
    # season-partition plan is pending too: a season-range run records its evaluation without a
    # partition (Dagster 1.13), so the planned execution of 2023-24 is never resolved; it was
    # alerted once through the evaluation and is dropped on the second tick with the others.
    assert set(json.loads(first.cursor)["pending"].values()) == {
        "tables/team_games:team_games_contract",
        "tables/team_games:team_games_keys_accounted",
        "tables/team_games_validated:team_games_validated_contract",
    }
    assert json.loads(second.cursor)["pending"] == {}
    assert "no new failed" in second.skip_reason.skip_message

    # A second failing run of the same check is a new evaluation: exactly one more alert.
    again = materialize_seasons(["2023-24"], resources, instance, selection=selection, raise_on_error=False)
    assert check_results(again) == {"team_games_validated_contract": False}
    third = evaluate(second.cursor)
    assert len(servers["smtp"]["box"].messages) == 2 and len(servers["http"].received) == 2
    assert again.run_id in servers["smtp"]["box"].messages[1].get_content()
    evaluate(third.cursor)
    assert len(servers["smtp"]["box"].messages) == 2


GATED_DEFS = """
import os, time
import dagster as dg

@dg.asset(name="gated_asset")
def gated_asset():
    return 1

@dg.asset_check(asset=gated_asset, blocking=True, description="always fails; in runs tagged gate=1 it first waits for the gate file")
def gated_check(context):
    if context.run.tags.get("gate") == "1":
        deadline = time.time() + 60
        while not os.path.exists(os.environ["GATE_FILE"]) and time.time() < deadline:
            time.sleep(0.05)
    return dg.AssetCheckResult(passed=False, metadata={"run_tag": context.run.tags.get("gate", "0")})

defs = dg.Definitions(assets=[gated_asset], asset_checks=[gated_check])

if __name__ == "__main__":  # run A, in its own process like a launched run
    import sys
    from dagster._core.instance.ref import InstanceRef
    from dagster._serdes import deserialize_value
    instance = dg.DagsterInstance.from_ref(deserialize_value(sys.argv[1], InstanceRef))
    result = dg.materialize([gated_asset, gated_check], instance=instance, tags={"gate": "1"}, raise_on_error=False)
    print(result.run_id)
"""


def test_check_failing_after_a_newer_failure_is_still_alerted(tmp_path, instance, servers):
    """Run A (its own process) plans a blocking check and is still evaluating it when run B's
    evaluation of the same check fails and is alerted; A's failure, stored later, is alerted on
    the next tick, once."""
    import importlib.util
    import subprocess
    import sys
    import time

    from dagster._serdes import serialize_value

    module_path = tmp_path / "gated_defs.py"
    module_path.write_text(GATED_DEFS)
    spec = importlib.util.spec_from_file_location("gated_defs", module_path)
    gated = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gated)
    key = dg.AssetCheckKey(dg.AssetKey("gated_asset"), "gated_check")
    bound = notifier(servers)

    def evaluate(cursor):
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=gated.defs, resources={"alert_notifier": bound}
        ) as context:
            return failed_check_alert(context)

    tick0 = evaluate(None)  # nothing evaluated yet
    gate = tmp_path / "gate"
    run_a = subprocess.Popen(
        [sys.executable, str(module_path), serialize_value(instance.get_ref())],
        env={**os.environ, "GATE_FILE": str(gate)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:  # until A's check is planned
            history = instance.event_log_storage.get_asset_check_execution_history(key, limit=5)
            if history and history[0].status.value == "PLANNED":
                break
            time.sleep(0.1)
        else:
            pytest.fail("run A never planned its check")
        run_b = dg.materialize([gated.gated_asset, gated.gated_check], instance=instance, raise_on_error=False)
        tick1 = evaluate(tick0.cursor)
        assert [m["Subject"] for m in servers["smtp"]["box"].messages] == [
            "[nba_platform local] Blocking check failed: gated_asset / gated_check"
        ]
        assert run_b.run_id in servers["smtp"]["box"].messages[0].get_content()
        assert json.loads(tick1.cursor)["pending"]  # A's planned evaluation is remembered
    finally:
        gate.touch()
        out, _ = run_a.communicate(timeout=60)
    run_a_id = out.strip().splitlines()[-1]
    tick2 = evaluate(tick1.cursor)
    assert len(servers["smtp"]["box"].messages) == 2 and len(servers["http"].received) == 2
    body = servers["smtp"]["box"].messages[1].get_content()
    assert run_a_id in body and "run_tag: 1" in body
    assert not json.loads(tick2.cursor)["pending"]
    evaluate(tick2.cursor)
    assert len(servers["smtp"]["box"].messages) == 2


# ---------------------------------------------------------------- secrets and channel isolation


def test_secrets_never_reach_messages_reports_or_logs(instance, servers, caplog, capfd):
    hook_url = servers["hook_url"]
    # The run's own error quotes both secrets (a careless log line in user code).
    result = failed_run(instance, f"upload failed: POST {hook_url} (smtp login {SMTP_USER} / {SMTP_PASSWORD})")
    capfd.readouterr()  # the run's own console output is the run's, not the alert's
    caplog.clear()
    caplog.set_level(logging.DEBUG)

    good = notifier(servers)
    evaluate_run_failure_sensor(instance, result, good)
    assert len(servers["smtp"]["box"].messages) == 1 and len(servers["http"].received) == 1
    body = servers["smtp"]["box"].messages[0].get_content()
    assert "upload failed: POST *** (smtp login alerts@nba.test / ***)" in body

    # Failure paths: wrong SMTP password (the server refuses AUTH) and a webhook that answers 500,
    # then an unreachable webhook. Each failing channel is logged and the other still delivers.
    from dagster._core.test_utils import environ

    broken_hook = f"http://127.0.0.1:{servers['http'].server_port}/broken/{WEBHOOK_TOKEN}"
    with environ({"NBA_ALERT_WEBHOOK_URL": broken_hook, "NBA_ALERT_SMTP_PASSWORD": "wrong-" + SMTP_PASSWORD}):
        report = good.send(_probe_alert(), log=logging.getLogger("alert-test"))
    assert report.channels["email"].startswith("failed: SMTPAuthenticationError")
    assert report.channels["webhook"] == "failed: WebhookError: webhook answered HTTP 500"

    closed = f"http://127.0.0.1:{free_port()}/hook/{WEBHOOK_TOKEN}"
    with environ({"NBA_ALERT_WEBHOOK_URL": closed}):
        report = good.send(_probe_alert(), log=logging.getLogger("alert-test"))
    assert report.channels["email"] == "sent"
    assert report.channels["webhook"].startswith("failed: WebhookError: webhook unreachable")

    down = notifier(servers, smtp_port=free_port())  # nothing listens there
    report = down.send(_probe_alert(), log=logging.getLogger("alert-test"))
    assert report.channels == {"email": report.channels["email"], "webhook": "sent"}
    assert report.channels["email"].startswith("failed: ConnectionRefusedError")

    logs = caplog.text + "\n".join(capfd.readouterr())
    assert "email delivery failed: SMTPAuthenticationError" in logs  # the logs were captured
    assert "webhook delivery failed: WebhookError: webhook answered HTTP 500" in logs
    arrived = everything_that_arrived(servers)
    # mail: the run alert + the one sent while the webhook was unreachable; webhook requests: the
    # run alert, the one answered 500, the one sent while SMTP was down
    assert len(servers["smtp"]["box"].messages) == 2 and len(servers["http"].received) == 3
    for secret in (SMTP_PASSWORD, WEBHOOK_TOKEN, "xyzzy0secret0token", hook_url, broken_hook, closed):
        assert secret not in arrived, secret
        assert secret not in logs, secret
        assert secret not in str(report), secret


def _probe_alert():
    from nba_platform.lib.alerts import run_failure

    return run_failure("probe_job", "run-probe", [], "probe", "http://127.0.0.1:3000")


def test_embedded_default_is_disabled_without_configuration(monkeypatch, tmp_path):
    for var in ("NBA_ALERT_SMTP_HOST", "NBA_ALERT_EMAIL_TO", "NBA_ALERT_WEBHOOK_URL", "NBA_ALERT_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    from nba_platform.resources.environment import build_resources

    alerts = build_resources()["alert_notifier"]
    assert alerts.channel_status() == {"email": "not configured", "webhook": "not configured"}
    report = alerts.send(_probe_alert())
    assert report.channels == {"email": "not configured", "webhook": "not configured"} and not report.delivered
    monkeypatch.setenv("NBA_ALERT_SMTP_HOST", "127.0.0.1")
    assert build_resources()["alert_notifier"].channel_status()["email"] == "not configured"  # no recipients
    monkeypatch.setenv("NBA_ALERT_EMAIL_TO", "a@x.test")
    assert build_resources()["alert_notifier"].channel_status() == {"email": "configured", "webhook": "not configured"}
    assert AlertNotifier(
        secrets=Secrets(), smtp_host="h", email_to=["a@x.test"], email_enabled=False, webhook_enabled=False
    ).channel_status() == {"email": "disabled", "webhook": "disabled"}
