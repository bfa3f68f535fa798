"""Reports beside an S3 lake (moto_server over HTTP), as build_resources binds them in prod."""

import uuid

import boto3
import dagster as dg
import pytest

from nba_platform.resources.environment import build_resources
from nba_platform.settings import load_settings

pytestmark = pytest.mark.integration


def test_reports_are_written_beside_the_s3_lake(aws_env, monkeypatch, tmp_path):
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    bucket = f"nba-lake-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("NBA_HOME", str(tmp_path))
    settings = load_settings().model_copy(
        update={"env": "prod", "lake_uri": f"s3://{bucket}/lake", "aws_endpoint_url": aws_env}
    )

    reports = build_resources(settings)["reports"]
    assert reports.root == f"s3://{bucket}/lake/_reports"
    html = "<!DOCTYPE html><html><body>drift</body></html>"
    uri = reports.write_text("drift/2023-24.html", html)
    assert uri == f"s3://{bucket}/lake/_reports/drift/2023-24.html"
    assert s3.get_object(Bucket=bucket, Key="lake/_reports/drift/2023-24.html")["Body"].read().decode() == html
    assert reports.exists("drift/2023-24.html") and reports.read_text("drift/2023-24.html") == html
    link = reports.metadata_value("drift/2023-24.html")
    assert isinstance(link, dg.UrlMetadataValue) and link.url == uri
