"""Secrets: AWS Secrets Manager in prod (one JSON secret), the environment / .env locally.

Values are returned to the caller only: never logged, never put in metadata, and errors name
the key, not the value.
"""

import json
import os

import dagster as dg
from dotenv import dotenv_values  # python-dotenv: the .env parser pydantic-settings itself uses

from nba_platform.lib.secret_scrubbing import remember_secret
from nba_platform.settings import DOTENV_PATH


class SecretNotFound(KeyError):
    pass


class Secrets(dg.ConfigurableResource):
    source: str = "env"  # env | aws
    secret_id: str | None = None  # Secrets Manager secret holding a JSON object (source=aws)
    region: str | None = None
    endpoint_url: str | None = None

    def _aws_values(self) -> dict:
        # dagster-aws's SecretsManagerSecretsResource ignores endpoint_url (0.29.27); the plain
        # SecretsManagerResource client honours it.
        from dagster_aws.secretsmanager import SecretsManagerResource

        client = SecretsManagerResource(region_name=self.region, endpoint_url=self.endpoint_url).get_client()
        try:
            raw = client.get_secret_value(SecretId=self.secret_id)["SecretString"]
        except client.exceptions.ResourceNotFoundException:
            raise SecretNotFound(f"secret {self.secret_id!r} not found in Secrets Manager") from None
        return json.loads(raw)

    def get(self, key: str) -> str:
        if self.source == "aws":
            values = self._aws_values()
            if key not in values:
                raise SecretNotFound(f"key {key!r} not in secret {self.secret_id!r}")
            value = str(values[key])
        else:
            env_key = key.upper()
            value = os.environ.get(env_key)
            if value is None:  # like the settings: the real environment first, then ./.env
                value = dotenv_values(DOTENV_PATH).get(env_key)
            if value is None:
                raise SecretNotFound(f"secret {env_key} is not set in the environment or .env")
        remember_secret(value)  # scrubbed from run logs and scrubbed errors from now on (lib/secret_scrubbing.py)
        return value

    def get_optional(self, key: str) -> str | None:
        try:
            return self.get(key)
        except SecretNotFound:
            return None
