# The platform bucket. Prefixes:
#   lake/                  NBA_LAKE_URI          (Parquet tables; registered in Glue)
#   landing/               NBA_LANDING_URI       (files as delivered)
#   mlflow/                MLFLOW_ARTIFACT_URI   (model artifacts)
#   backups/               NBA_BACKUP_URI        (lifecycle: IA -> GLACIER -> expiry)
#   dagster/compute-logs/  S3ComputeLogManager   (step stdout/stderr)

resource "aws_s3_bucket" "platform" {
  bucket        = var.bucket_name
  force_destroy = false
}

resource "aws_s3_bucket_ownership_controls" "platform" {
  bucket = aws_s3_bucket.platform.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "platform" {
  bucket = aws_s3_bucket.platform.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "platform" {
  bucket = aws_s3_bucket.platform.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "platform" {
  bucket = aws_s3_bucket.platform.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.platform.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "platform" {
  bucket = aws_s3_bucket.platform.id

  # Lifecycle rules on a versioned bucket must be applied after versioning is enabled.
  depends_on = [aws_s3_bucket_versioning.platform]

  rule {
    id     = "backups-tiering-and-expiry"
    status = "Enabled"

    filter {
      prefix = local.backups_prefix
    }

    transition {
      days          = var.backups_ia_after_days
      storage_class = "STANDARD_IA"
    }

    transition {
      days          = var.backups_glacier_after_days
      storage_class = "GLACIER"
    }

    expiration {
      days = var.backups_expire_after_days
    }
  }

  rule {
    id     = "noncurrent-versions-and-incomplete-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expire_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# TLS only. (A Deny with a broad action list is a guard rail, not a grant.)
data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.platform.arn,
      "${aws_s3_bucket.platform.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "platform" {
  bucket = aws_s3_bucket.platform.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.platform]
}
