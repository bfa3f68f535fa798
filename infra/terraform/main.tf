# nba_platform on AWS: one S3 bucket (lake / landing / mlflow / backups / compute logs), one RDS
# PostgreSQL 15 instance (serving db, Dagster storage, MLflow backend), one Secrets Manager secret,
# a Glue database, and the three Dagster services on ECS Fargate behind an OIDC-authenticated ALB.
# See infra/README.md for the apply procedure and what was / was not exercised.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name       = var.name_prefix
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  tags = merge(
    {
      Project     = "nba_platform"
      Environment = var.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )

  bucket_arn     = aws_s3_bucket.platform.arn
  backups_prefix = "backups/"

  glue_catalog_arn  = "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:catalog"
  glue_database_arn = "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:database/${aws_glue_catalog_database.platform.name}"
  glue_tables_arn   = "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:table/${aws_glue_catalog_database.platform.name}/*"

  service_names = ["webserver", "daemon", "code-server", "api", "mcp"]
}

# One customer-managed key for the bucket, the secret, RDS storage and Performance Insights.
# The default key policy lets IAM policies in this account grant its use; the task and execution
# roles get kms:Decrypt / kms:GenerateDataKey only through S3 and Secrets Manager (kms:ViaService).
resource "aws_kms_key" "platform" {
  description             = "${local.name}: S3, Secrets Manager and RDS encryption"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "platform" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.platform.key_id
}
