# Glue Data Catalog database for the lake. Tables (and partitions) are registered by the platform
# at run time, so Terraform creates only the database; the task role may act on this database and
# its tables only (see iam.tf).

resource "aws_glue_catalog_database" "platform" {
  name         = var.glue_database_name
  description  = "nba_platform lake tables (registered at run time by the platform)"
  location_uri = "s3://${aws_s3_bucket.platform.bucket}/lake/"
}
