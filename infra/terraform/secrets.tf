# The runtime secret (NBA_SECRETS_ID). Terraform owns only the secret resource and its policy;
# the JSON value is written by an operator, outside Terraform (so it never lands in the state):
#
#   aws secretsmanager put-secret-value --secret-id <secret_arn output> --secret-string file://secret.json
#   secret.json: {"rds_password": "...", "dagster_pg_password": "...",
#                 "slack_webhook_url": "...", "smtp_password": "...",
#                 "nba_api_jwt_secret": "<32+ random bytes: the forecast API's JWT signing key>"}
#
# ECS injects dagster_pg_password (DAGSTER_PG_PASSWORD) and rds_password (PGPASSWORD, used by the
# MLflow backend connection) into the containers via `secrets`/valueFrom; the platform reads the
# whole document itself through NBA_SECRETS_ID.

resource "aws_secretsmanager_secret" "platform" {
  name                    = var.secret_name
  description             = "nba_platform runtime secrets (JSON: rds_password, dagster_pg_password, slack_webhook_url, smtp_password, nba_api_jwt_secret). Value managed outside Terraform."
  kms_key_id              = aws_kms_key.platform.arn
  recovery_window_in_days = 30
}

data "aws_iam_policy_document" "secret" {
  # Only the platform's roles and the listed operators may read the value, whatever their
  # identity policies say.
  statement {
    sid       = "DenyReadExceptPlatformAndOperators"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.platform.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values = concat(
        [
          aws_iam_role.task.arn,
          aws_iam_role.execution.arn,
        ],
        var.secret_admin_principal_arns,
      )
    }
  }
}

resource "aws_secretsmanager_secret_policy" "platform" {
  secret_arn          = aws_secretsmanager_secret.platform.arn
  policy              = data.aws_iam_policy_document.secret.json
  block_public_policy = true
}
