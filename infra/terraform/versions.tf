terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # Remote state: partial configuration, completed at init time, e.g.
  #   terraform init -backend-config="bucket=<state-bucket>" \
  #                  -backend-config="key=nba-platform/prod.tfstate" \
  #                  -backend-config="region=us-east-1" -backend-config="use_lockfile=true"
  # (`terraform init -backend=false` is enough for `terraform validate`.)
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}
