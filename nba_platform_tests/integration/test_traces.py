"""OpenTelemetry traces of a real materialization, exported over OTLP/HTTP to a receiver started
here (a plain http.server decoding the real protobuf payload with opentelemetry-proto): the
run span, the step span under it, and under the step the stats API HTTP calls (against the
stand-in stats API server) and the S3 PutObject of the lake write (against moto_server). The
JSON run logs carry the same trace and span ids. Tracing is off without the endpoint variable."""

import http.server
import json
import os
import subprocess
import sys
import threading
import uuid

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from nba_platform.lib import tracing as trace_ids
from nba_platform_tests.stats_api_server import FakeStatsApi, Fault, league_game_log

SEASON = "2022-23"


class OtlpReceiver:
    """POST /v1/traces -> the decoded spans, with their service name."""

    def __init__(self):
        self.spans: list[dict] = []
        self.requests = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                assert self.path == "/v1/traces", self.path
                assert self.headers["Content-Type"] == "application/x-protobuf"
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.requests += 1
                for resource_spans in request.resource_spans:
                    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}.get(
                        "service.name"
                    )
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append(
                                {
                                    "service": service,
                                    "name": span.name,
                                    "trace_id": span.trace_id.hex(),
                                    "span_id": span.span_id.hex(),
                                    "parent_span_id": span.parent_span_id.hex(),
                                    "status": span.status.code,
                                    "start": span.start_time_unix_nano,
                                    "end": span.end_time_unix_nano,
                                    "attributes": {
                                        a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes
                                    },
                                }
                            )
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = OtlpReceiver()
    yield r
    r.close()


def test_tracing_is_off_without_an_endpoint(monkeypatch):
    from opentelemetry import trace

    from nba_platform.observability import tracing

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setattr(tracing, "_configured", False)
    assert tracing.enabled() is False
    with trace_ids.span("s3 PutObject") as current:
        assert not current.is_recording()  # the API's no-op span
    assert not isinstance(trace.get_tracer_provider(), __import__("opentelemetry.sdk.trace").sdk.trace.TracerProvider)


def test_ids_derive_from_the_run_id():
    run_id = str(uuid.uuid4())
    assert trace_ids.trace_id_hex(trace_ids.run_trace_id(run_id)) == uuid.UUID(run_id).hex
    assert trace_ids.step_span_id(run_id, "a") == trace_ids.step_span_id(run_id, "a")
    assert trace_ids.step_span_id(run_id, "a") != trace_ids.step_span_id(run_id, "b") != trace_ids.run_span_id(run_id)
    assert trace_ids.log_ids(run_id, None) == (uuid.UUID(run_id).hex, format(trace_ids.run_span_id(run_id), "016x"))
    assert trace_ids.log_ids(None, "a") == (None, None)


def test_materialization_exports_run_step_and_external_call_spans(tmp_path, receiver, moto_endpoint):
    import boto3

    bucket = f"traces-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_", "DAGSTER_", "AWS_", "OTEL_"))}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_SERVICE_NAME="nba-platform-test",
        NBA_LOG_FORMAT="json",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
    )
    with FakeStatsApi({(SEASON, "Regular Season"): league_game_log(SEASON)}) as server:
        server.inject("leaguegamelog", Fault("status", 503))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "nba_platform_tests.integration.traced_run",
                str(tmp_path / "home"),
                server.base_url,
                moto_endpoint,
                bucket,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    trace_id = uuid.UUID(run_id).hex
    spans = receiver.spans
    assert spans and {s["service"] for s in spans} == {"nba-platform-test"}
    by_name: dict[str, list[dict]] = {}
    for span in spans:
        by_name.setdefault(span["name"], []).append(span)

    # run: a root span whose ids come from the run id
    [run] = [s for s in spans if s["name"].startswith("run ")]
    assert run["trace_id"] == trace_id and run["parent_span_id"] == ""
    assert run["span_id"] == format(trace_ids.run_span_id(run_id), "016x")
    assert run["attributes"]["dagster.run_id"] == run_id
    assert run["status"] == 1  # STATUS_CODE_OK

    # step: child of the run
    [step] = by_name["step raw__league_game_log"]
    assert step["trace_id"] == trace_id and step["parent_span_id"] == run["span_id"]
    assert step["span_id"] == format(trace_ids.step_span_id(run_id, "raw__league_game_log"), "016x")
    assert run["start"] <= step["start"] <= step["end"] <= run["end"]

    # external calls: children of the step, inside its time
    calls = by_name["stats_api GET leaguegamelog"]
    assert [c["attributes"]["http.status_code"] for c in calls] == [503, 200]
    assert all("/stats/leaguegamelog?" in c["attributes"]["http.url"] for c in calls)
    puts = [
        s
        for s in by_name["s3 PutObject"]
        if s["attributes"]["s3.key"].endswith(f"raw/league_game_log/season={SEASON}/data.parquet")
    ]
    assert len(puts) == 1
    for call in [*calls, *puts]:
        assert call["trace_id"] == trace_id and call["parent_span_id"] == step["span_id"]
        assert step["start"] <= call["start"] <= call["end"] <= step["end"]
    assert puts[0]["attributes"]["s3.key"].startswith(f"{bucket}/lake/")

    # the JSON run logs name the same trace and spans
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{") and '"run_id"' in line]
    step_lines = [line for line in lines if line.get("step") == "raw__league_game_log"]
    run_lines = [line for line in lines if line.get("event_type") == "PIPELINE_SUCCESS"]
    assert step_lines and run_lines
    assert all(line["trace_id"] == trace_id and line["span_id"] == step["span_id"] for line in step_lines)
    assert run_lines[0]["trace_id"] == trace_id and run_lines[0]["span_id"] == run["span_id"]
