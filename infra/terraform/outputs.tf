output "ui_url" {
  description = "Dagster UI behind the OIDC-authenticated ALB (point your domain's DNS at alb_dns_name)."
  value       = "https://${aws_lb.webserver.dns_name}"
}

output "api_url" {
  description = "Forecast API (/v1, docs at /docs), behind the same ALB; bearer tokens from `nba-platform api-token`."
  value       = "https://${aws_lb.webserver.dns_name}/v1"
}

output "mcp_url" {
  description = "MCP server (streamable HTTP), behind the same ALB; the API's bearer tokens (scope read:forecasts)."
  value       = "${local.mcp_public_url}/mcp"
}

output "alb_dns_name" {
  description = "DNS name of the ALB (CNAME/alias target for the certificate's domain)."
  value       = aws_lb.webserver.dns_name
}

output "alb_zone_id" {
  description = "Route 53 zone id of the ALB, for an alias record."
  value       = aws_lb.webserver.zone_id
}

output "bucket_name" {
  description = "Platform bucket."
  value       = aws_s3_bucket.platform.bucket
}

output "lake_uri" {
  description = "NBA_LAKE_URI"
  value       = "s3://${aws_s3_bucket.platform.bucket}/lake"
}

output "landing_uri" {
  description = "NBA_LANDING_URI"
  value       = "s3://${aws_s3_bucket.platform.bucket}/landing"
}

output "mlflow_artifact_uri" {
  description = "MLFLOW_ARTIFACT_URI"
  value       = "s3://${aws_s3_bucket.platform.bucket}/mlflow"
}

output "kms_key_arn" {
  description = "KMS key encrypting the bucket, the secret and RDS."
  value       = aws_kms_key.platform.arn
}

output "rds_address" {
  description = "RDS endpoint host (NBA_RDS_HOST / DAGSTER_PG_HOST)."
  value       = aws_db_instance.platform.address
}

output "rds_master_user_secret_arn" {
  description = "Secrets Manager secret RDS manages for the master user (used once for the bootstrap SQL)."
  value       = aws_db_instance.platform.master_user_secret[0].secret_arn
}

output "secret_arn" {
  description = "Runtime secret (NBA_SECRETS_ID); put its JSON value outside Terraform."
  value       = aws_secretsmanager_secret.platform.arn
}

output "glue_database_name" {
  description = "Glue Data Catalog database."
  value       = aws_glue_catalog_database.platform.name
}

output "ecs_cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.platform.name
}

output "ecs_service_names" {
  description = "ECS services."
  value       = [aws_ecs_service.webserver.name, aws_ecs_service.daemon.name, aws_ecs_service.code_server.name, aws_ecs_service.api.name, aws_ecs_service.mcp.name]
}

output "task_role_arn" {
  description = "IAM role of the platform's containers."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ECS task execution role."
  value       = aws_iam_role.execution.arn
}

output "log_group_names" {
  description = "CloudWatch log groups per service."
  value       = { for name, group in aws_cloudwatch_log_group.service : name => group.name }
}

output "code_server_host" {
  description = "DAGSTER_CODE_SERVER_HOST inside the VPC."
  value       = "${aws_service_discovery_service.code_server.name}.${aws_service_discovery_private_dns_namespace.platform.name}"
}
