"""Seed the moto server of the local compose stack with what Terraform creates in AWS.

Run once by the `moto-init` service of infra/docker-compose.yml (with the platform image, which
has boto3), before the Dagster and MLflow services start:

* the platform bucket (name taken from NBA_LAKE_URI), versioned like the real one;
* the Secrets Manager secret NBA_SECRETS_ID holding the JSON document the platform reads
  (`rds_password`, `dagster_pg_password`, `slack_webhook_url`, `smtp_password`,
  `nba_api_jwt_secret`), built from
  this container's environment. In AWS that value is managed outside Terraform.

Idempotent: an existing bucket is kept, an existing secret gets a new version.
Only for the local stack: it refuses to run unless AWS_ENDPOINT_URL points at a non-AWS endpoint.
Checked by nba_platform_tests/infra/test_deployment_files.py against a real moto server.
"""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

SECRET_KEYS = {
    "rds_password": "NBA_RDS_PASSWORD",
    "dagster_pg_password": "DAGSTER_PG_PASSWORD",
    "slack_webhook_url": "NBA_SLACK_WEBHOOK_URL",
    "smtp_password": "NBA_SMTP_PASSWORD",
    "nba_api_jwt_secret": "NBA_API_JWT_SECRET",  # HS256 key of the forecast API's bearer tokens
}


def bucket_from_uri(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"expected an s3://bucket/prefix URI, got {uri!r}")
    return parsed.netloc


def secret_document(environ: dict[str, str]) -> dict[str, str]:
    missing = [env for key, env in SECRET_KEYS.items() if key.endswith("password") and not environ.get(env)]
    if missing:
        raise ValueError(f"missing environment variables for the secret: {', '.join(missing)}")
    return {key: environ.get(env, "") for key, env in SECRET_KEYS.items()}


def seed(environ: dict[str, str]) -> dict[str, str]:
    endpoint = environ.get("AWS_ENDPOINT_URL", "")
    host = urlparse(endpoint).hostname or ""
    if not endpoint or host.endswith("amazonaws.com"):
        raise RuntimeError("seed_moto.py only seeds a local moto server (set AWS_ENDPOINT_URL)")

    region = environ.get("AWS_REGION", "us-east-1")
    uri_vars = ("NBA_LAKE_URI", "NBA_LANDING_URI", "MLFLOW_ARTIFACT_URI")
    buckets = sorted({bucket_from_uri(environ[name]) for name in uri_vars if environ.get(name)})
    if not buckets:
        raise ValueError("NBA_LAKE_URI is not set")

    # Everything comes from `environ` (not from whatever this process's environment holds).
    session = boto3.session.Session(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        region_name=region,
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    for bucket in buckets:
        try:
            if region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    secret_id = environ["NBA_SECRETS_ID"]
    document = json.dumps(secret_document(environ))
    sm = session.client("secretsmanager", endpoint_url=endpoint)
    try:
        sm.create_secret(Name=secret_id, SecretString=document)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=secret_id, SecretString=document)
    return {"buckets": ",".join(buckets), "secret": secret_id}


def main() -> int:
    result = seed(dict(os.environ))
    print(f"seeded moto: buckets={result['buckets']} secret={result['secret']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
