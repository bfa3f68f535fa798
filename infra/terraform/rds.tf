# PostgreSQL 15 in the private subnets. One instance holds three databases:
#   var.rds_database_name   (NBA_RDS_DB, created here)       serving tables
#   var.dagster_pg_database (DAGSTER_PG_DB, bootstrap SQL)   Dagster run/event/schedule storage
#   var.mlflow_database     (bootstrap SQL)                  MLflow tracking backend
# The application roles and the two extra databases are created once with infra/compose/init.sql
# (see infra/README.md). The master password is generated and rotated by RDS in Secrets Manager.

resource "aws_db_subnet_group" "platform" {
  name        = "${local.name}-pg"
  description = "${local.name} PostgreSQL (private subnets)"
  subnet_ids  = var.private_subnet_ids
}

resource "aws_db_parameter_group" "platform" {
  name        = "${local.name}-pg15"
  family      = "postgres15"
  description = "${local.name} PostgreSQL 15"

  # Clients must use TLS (libpq's default sslmode=prefer negotiates it).
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "2000"
  }
}

resource "aws_db_instance" "platform" {
  identifier     = "${local.name}-pg"
  engine         = "postgres"
  engine_version = var.rds_engine_version
  instance_class = var.rds_instance_class

  allocated_storage     = var.rds_allocated_storage_gb
  max_allocated_storage = var.rds_max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.platform.arn

  db_name                       = var.rds_database_name
  username                      = var.rds_master_username
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.platform.key_id

  db_subnet_group_name   = aws_db_subnet_group.platform.name
  vpc_security_group_ids = [aws_security_group.rds.id]
  parameter_group_name   = aws_db_parameter_group.platform.name
  publicly_accessible    = false
  multi_az               = var.rds_multi_az
  port                   = 5432

  backup_retention_period   = var.rds_backup_retention_days
  backup_window             = "03:00-04:00"
  maintenance_window        = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = var.rds_deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-pg-final"

  auto_minor_version_upgrade      = true
  allow_major_version_upgrade     = false
  apply_immediately               = false
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.platform.arn
}
