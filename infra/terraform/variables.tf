# ---------------------------------------------------------------------------------------------------
# General
# ---------------------------------------------------------------------------------------------------
variable "aws_region" {
  description = "AWS region for every resource (also passed to the containers as AWS_REGION)."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix for resource names (ALB and target group names are limited to 32 characters)."
  type        = string
  default     = "nba-platform"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Deployment environment label (tags only; the containers always run NBA_PLATFORM_ENV=prod)."
  type        = string
  default     = "prod"
}

variable "tags" {
  description = "Extra tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------------
# Network (existing VPC)
# ---------------------------------------------------------------------------------------------------
variable "vpc_id" {
  description = "ID of the existing VPC."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two AZs) for the ECS tasks and the RDS subnet group. They need a route to AWS APIs (NAT or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two private subnets in different availability zones."
  }
}

variable "public_subnet_ids" {
  description = "Subnets for the Application Load Balancer (public subnets, or private ones when alb_internal = true)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "The ALB needs subnets in at least two availability zones."
  }
}

variable "alb_internal" {
  description = "Make the ALB internal (reachable only inside the VPC / over VPN)."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the ALB on 443 (and 80, which only redirects). Every request is still authenticated by OIDC."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alb_deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
  default     = true
}

variable "smtp_port" {
  description = "Outbound SMTP submission port the platform's e-mail alerts use."
  type        = number
  default     = 587
}

# ---------------------------------------------------------------------------------------------------
# TLS and authentication for the Dagster UI
# ---------------------------------------------------------------------------------------------------
variable "certificate_arn" {
  description = "ACM certificate ARN for the UI's domain (HTTPS listener)."
  type        = string
}

variable "oidc_issuer" {
  description = "OIDC issuer URL of the identity provider."
  type        = string
}

variable "oidc_authorization_endpoint" {
  description = "OIDC authorization endpoint."
  type        = string
}

variable "oidc_token_endpoint" {
  description = "OIDC token endpoint."
  type        = string
}

variable "oidc_user_info_endpoint" {
  description = "OIDC user info endpoint."
  type        = string
}

variable "oidc_client_id" {
  description = "OIDC client id registered for the ALB."
  type        = string
}

variable "oidc_client_secret" {
  description = "OIDC client secret. Pass it with TF_VAR_oidc_client_secret (never in a committed tfvars file). It ends up in the Terraform state: keep the state bucket encrypted and private."
  type        = string
  sensitive   = true
}

variable "oidc_scope" {
  description = "Scopes requested from the identity provider."
  type        = string
  default     = "openid email profile"
}

variable "oidc_session_timeout_seconds" {
  description = "Lifetime of the ALB authentication session cookie."
  type        = number
  default     = 28800
}

# ---------------------------------------------------------------------------------------------------
# Container image
# ---------------------------------------------------------------------------------------------------
variable "image_uri" {
  description = "Image built from the repository's Dockerfile, e.g. <account>.dkr.ecr.<region>.amazonaws.com/nba-platform:<git-sha>. Use an immutable tag."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository holding image_uri (the execution role may pull only from it)."
  type        = string
}

# ---------------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------------
variable "bucket_name" {
  description = "Name of the platform bucket (prefixes lake/, landing/, mlflow/, backups/, dagster/compute-logs/)."
  type        = string
}

variable "backups_ia_after_days" {
  description = "Days before objects under backups/ move to STANDARD_IA."
  type        = number
  default     = 30
}

variable "backups_glacier_after_days" {
  description = "Days before objects under backups/ move to GLACIER."
  type        = number
  default     = 90
}

variable "backups_expire_after_days" {
  description = "Days before objects under backups/ expire."
  type        = number
  default     = 730

  validation {
    condition     = var.backups_expire_after_days > 90
    error_message = "Keep backups for more than 90 days (they move to GLACIER first)."
  }
}

variable "noncurrent_version_expire_days" {
  description = "Days a non-current object version is kept (versioning protects against overwrites and deletes)."
  type        = number
  default     = 90
}

variable "glue_database_name" {
  description = "Glue Data Catalog database; the platform registers its tables there at run time."
  type        = string
  default     = "nba_platform"
}

# ---------------------------------------------------------------------------------------------------
# RDS PostgreSQL 15 (serving database, Dagster storage, MLflow backend)
# ---------------------------------------------------------------------------------------------------
variable "rds_engine_version" {
  description = "PostgreSQL engine version (major 15; minor versions upgrade automatically)."
  type        = string
  default     = "15"

  validation {
    condition     = can(regex("^15(\\.[0-9]+)?$", var.rds_engine_version))
    error_message = "The platform targets PostgreSQL 15."
  }
}

variable "rds_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "rds_allocated_storage_gb" {
  description = "Initial allocated storage (GiB)."
  type        = number
  default     = 50
}

variable "rds_max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling (GiB)."
  type        = number
  default     = 200
}

variable "rds_multi_az" {
  description = "Run RDS as Multi-AZ."
  type        = bool
  default     = true
}

variable "rds_backup_retention_days" {
  description = "Automated backup retention (days)."
  type        = number
  default     = 14

  validation {
    condition     = var.rds_backup_retention_days >= 7 && var.rds_backup_retention_days <= 35
    error_message = "Keep automated backups between 7 and 35 days."
  }
}

variable "rds_deletion_protection" {
  description = "Protect the RDS instance from deletion."
  type        = bool
  default     = true
}

variable "rds_master_username" {
  description = "RDS master user. Its password is generated and kept by RDS in Secrets Manager (manage_master_user_password)."
  type        = string
  default     = "nba_admin"
}

variable "rds_database_name" {
  description = "Serving database (NBA_RDS_DB), created with the instance."
  type        = string
  default     = "nba"
}

variable "rds_app_username" {
  description = "Application user (NBA_RDS_USER); also owns the MLflow database. Created by infra/compose/init.sql at bootstrap; its password is the secret's rds_password."
  type        = string
  default     = "nba_app"
}

variable "dagster_pg_database" {
  description = "Dagster storage database (DAGSTER_PG_DB) on the same instance."
  type        = string
  default     = "dagster"
}

variable "dagster_pg_username" {
  description = "Dagster storage user (DAGSTER_PG_USER); its password is the secret's dagster_pg_password."
  type        = string
  default     = "dagster"
}

variable "mlflow_database" {
  description = "MLflow tracking backend database on the same instance."
  type        = string
  default     = "mlflow"
}

# ---------------------------------------------------------------------------------------------------
# Secrets Manager
# ---------------------------------------------------------------------------------------------------
variable "secret_name" {
  description = "Name of the runtime secret (NBA_SECRETS_ID). Its JSON value (rds_password, dagster_pg_password, slack_webhook_url, smtp_password, nba_api_jwt_secret) is set outside Terraform."
  type        = string
  default     = "nba-platform/prod"
}

variable "secret_admin_principal_arns" {
  description = "IAM role/user ARNs (besides the ECS task and execution roles) that may read the secret value, e.g. the operators' break-glass role. Everybody else is denied GetSecretValue by the secret's resource policy."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------------------------------
# ECS Fargate
# ---------------------------------------------------------------------------------------------------
variable "webserver_cpu" {
  description = "Fargate CPU units of the webserver task."
  type        = number
  default     = 1024
}

variable "webserver_memory" {
  description = "Fargate memory (MiB) of the webserver task."
  type        = number
  default     = 2048
}

variable "webserver_desired_count" {
  description = "Number of webserver tasks."
  type        = number
  default     = 1
}

variable "daemon_cpu" {
  description = "Fargate CPU units of the daemon task."
  type        = number
  default     = 512
}

variable "daemon_memory" {
  description = "Fargate memory (MiB) of the daemon task."
  type        = number
  default     = 2048
}

variable "code_server_cpu" {
  description = "Fargate CPU units of the code-server task. Runs execute inside it (DefaultRunLauncher): size it for max_concurrent_runs in infra/dagster/dagster.yaml."
  type        = number
  default     = 4096
}

variable "code_server_memory" {
  description = "Fargate memory (MiB) of the code-server task."
  type        = number
  default     = 16384
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for every service."
  type        = number
  default     = 365
}

# --- forecast API -------------------------------------------------------------------------------
variable "api_cpu" {
  description = "Forecast API task CPU units."
  type        = number
  default     = 512
}

variable "api_memory" {
  description = "Forecast API task memory (MiB)."
  type        = number
  default     = 1024
}

variable "api_workers" {
  description = "uvicorn worker processes per API task."
  type        = number
  default     = 1
}

variable "api_desired_count" {
  description = "Forecast API tasks behind the ALB."
  type        = number
  default     = 2
}

# --- MCP server ---------------------------------------------------------------------------------
variable "mcp_cpu" {
  description = "MCP server task CPU units."
  type        = number
  default     = 256
}

variable "mcp_memory" {
  description = "MCP server task memory (MiB)."
  type        = number
  default     = 512
}

variable "mcp_desired_count" {
  description = "MCP server tasks behind the ALB. Sessions live in one task; the target group's stickiness cookie keeps a client on it, so more than 1 needs clients that keep cookies."
  type        = number
  default     = 1
}

variable "mcp_public_url" {
  description = "URL clients reach the MCP server at (NBA_MCP_PUBLIC_URL), e.g. https://<the certificate's domain>; empty = https://<the ALB's DNS name>."
  type        = string
  default     = ""
}
