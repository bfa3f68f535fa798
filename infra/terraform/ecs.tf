# ECS Fargate: one cluster, five services from the same image (infra/../Dockerfile):
#   webserver    dagster-webserver, behind the ALB
#   daemon       dagster-daemon (exactly one task, never two at once)
#   code-server  dagster code-server (gRPC :4000), found through Cloud Map; with the
#                DefaultRunLauncher (infra/dagster/dagster.yaml) the runs execute inside it.
#   api          the forecast API (`nba-platform serve-api`), behind the ALB's /v1 rule; read-only
#                over the serving database, its JWT signing key the secret's nba_api_jwt_secret.
#   mcp          the MCP server (`nba-platform serve-mcp --transport http`), behind the ALB's /mcp
#                rule; the same tokens and database as the api (NBA_MCP_PUBLIC_URL: the ALB's URL).
# Every container gets the same environment (plain settings only) and the same `secrets`,
# which ECS resolves from Secrets Manager at start-up (valueFrom); no password is in plaintext.

resource "aws_ecs_cluster" "platform" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "platform" {
  cluster_name       = aws_ecs_cluster.platform.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "service" {
  for_each = toset(local.service_names)

  name              = "/ecs/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
}

# Private DNS so the webserver and daemon reach the code server as code-server.<namespace>.
resource "aws_service_discovery_private_dns_namespace" "platform" {
  name        = "${local.name}.internal"
  description = "${local.name} service discovery"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "code_server" {
  name = "code-server"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.platform.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

locals {
  dagster_home   = "/opt/dagster/dagster_home"
  workspace_file = "/opt/dagster/app/workspace.yaml"
  rds_endpoint   = "${aws_db_instance.platform.address}:${aws_db_instance.platform.port}"

  # What the MCP server's OAuth resource metadata names: the ALB, unless var.mcp_public_url is set
  # (the certificate's domain, since the ALB's own DNS name does not match the certificate).
  mcp_public_url = var.mcp_public_url != "" ? trimsuffix(var.mcp_public_url, "/") : "https://${aws_lb.webserver.dns_name}"

  # Plain (non-secret) settings, identical for every container.
  container_environment = [
    { name = "NBA_PLATFORM_ENV", value = "prod" },
    { name = "NBA_LAKE_URI", value = "s3://${aws_s3_bucket.platform.bucket}/lake" },
    { name = "NBA_LANDING_URI", value = "s3://${aws_s3_bucket.platform.bucket}/landing" },
    { name = "NBA_BACKUP_URI", value = "s3://${aws_s3_bucket.platform.bucket}/${trimsuffix(local.backups_prefix, "/")}" },
    { name = "NBA_GLUE_DATABASE", value = aws_glue_catalog_database.platform.name },
    { name = "AWS_REGION", value = var.aws_region },
    { name = "NBA_SECRETS_ID", value = aws_secretsmanager_secret.platform.arn },
    { name = "NBA_RDS_HOST", value = aws_db_instance.platform.address },
    { name = "NBA_RDS_DB", value = var.rds_database_name },
    { name = "NBA_RDS_USER", value = var.rds_app_username },
    # Serving tables (published by the runs, read by the API); the password is the secret's rds_password.
    { name = "NBA_SERVING_DB_URL", value = "postgresql://${var.rds_app_username}@${local.rds_endpoint}/${var.rds_database_name}?sslmode=require" },
    { name = "DAGSTER_PG_HOST", value = aws_db_instance.platform.address },
    { name = "DAGSTER_PG_DB", value = var.dagster_pg_database },
    { name = "DAGSTER_PG_USER", value = var.dagster_pg_username },
    # No password in the URI: libpq reads it from PGPASSWORD (injected below from rds_password).
    { name = "MLFLOW_TRACKING_URI", value = "postgresql+psycopg2://${var.rds_app_username}@${local.rds_endpoint}/${var.mlflow_database}?sslmode=require" },
    { name = "MLFLOW_ARTIFACT_URI", value = "s3://${aws_s3_bucket.platform.bucket}/mlflow" },
    { name = "DAGSTER_HOME", value = local.dagster_home },
    { name = "DAGSTER_CODE_SERVER_HOST", value = "${aws_service_discovery_service.code_server.name}.${aws_service_discovery_private_dns_namespace.platform.name}" },
    { name = "DAGSTER_COMPUTE_LOG_BUCKET", value = aws_s3_bucket.platform.bucket },
    { name = "DAGSTER_COMPUTE_LOG_PREFIX", value = "dagster/compute-logs" },
    { name = "NBA_MCP_PUBLIC_URL", value = local.mcp_public_url },
  ]

  # Resolved by ECS from Secrets Manager (JSON keys of the runtime secret).
  container_secrets = [
    { name = "DAGSTER_PG_PASSWORD", valueFrom = "${aws_secretsmanager_secret.platform.arn}:dagster_pg_password::" },
    { name = "PGPASSWORD", valueFrom = "${aws_secretsmanager_secret.platform.arn}:rds_password::" },
  ]

  services = {
    webserver = {
      cpu          = var.webserver_cpu
      memory       = var.webserver_memory
      command      = ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", local.workspace_file]
      port         = 3000
      health_check = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/server_info', timeout=4)"]
      start_period = 60
    }
    daemon = {
      cpu          = var.daemon_cpu
      memory       = var.daemon_memory
      command      = ["dagster-daemon", "run", "-w", local.workspace_file]
      port         = null
      health_check = ["CMD", "dagster-daemon", "liveness-check"]
      start_period = 120
    }
    code-server = {
      cpu          = var.code_server_cpu
      memory       = var.code_server_memory
      command      = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "nba_platform.definitions"]
      port         = 4000
      health_check = ["CMD", "dagster", "api", "grpc-health-check", "-p", "4000"]
      start_period = 120
    }
    api = {
      cpu          = var.api_cpu
      memory       = var.api_memory
      command      = ["nba-platform", "serve-api", "--host", "0.0.0.0", "--port", "8080", "--workers", tostring(var.api_workers)]
      port         = 8080
      health_check = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
      start_period = 60
    }
    mcp = {
      cpu     = var.mcp_cpu
      memory  = var.mcp_memory
      command = ["nba-platform", "serve-mcp", "--transport", "http", "--host", "0.0.0.0", "--port", "8081"]
      port    = 8081
      # the OAuth protected-resource metadata: 200 without a token (/mcp itself answers 401)
      health_check = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/.well-known/oauth-protected-resource/mcp', timeout=4)"]
      start_period = 60
    }
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each = local.services

  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name         = each.key
      image        = var.image_uri
      essential    = true
      user         = "10001:10001"
      command      = each.value.command
      portMappings = each.value.port == null ? [] : [{ containerPort = each.value.port, protocol = "tcp" }]
      environment  = local.container_environment
      secrets      = local.container_secrets
      stopTimeout  = 120
      linuxParameters = {
        initProcessEnabled = true
      }
      healthCheck = {
        command     = each.value.health_check
        interval    = 30
        timeout     = 15
        retries     = 3
        startPeriod = each.value.start_period
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
          awslogs-region        = var.aws_region
          awslogs-stream-prefix = each.key
        }
      }
    }
  ])
}

resource "aws_ecs_service" "code_server" {
  name                   = "code-server"
  cluster                = aws_ecs_cluster.platform.id
  task_definition        = aws_ecs_task_definition.service["code-server"].arn
  desired_count          = 1
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.code_server.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.code_server.arn
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

resource "aws_ecs_service" "webserver" {
  name                              = "webserver"
  cluster                           = aws_ecs_cluster.platform.id
  task_definition                   = aws_ecs_task_definition.service["webserver"].arn
  desired_count                     = var.webserver_desired_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false
  health_check_grace_period_seconds = 120

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.webserver.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.webserver.arn
    container_name   = "webserver"
    container_port   = 3000
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_ecs_service" "daemon" {
  name                   = "daemon"
  cluster                = aws_ecs_cluster.platform.id
  task_definition        = aws_ecs_task_definition.service["daemon"].arn
  desired_count          = 1
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  # Exactly one daemon: stop the old task before starting the new one on deploys.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.daemon.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

resource "aws_ecs_service" "api" {
  name                              = "api"
  cluster                           = aws_ecs_cluster.platform.id
  task_definition                   = aws_ecs_task_definition.service["api"].arn
  desired_count                     = var.api_desired_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false
  health_check_grace_period_seconds = 60

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.api.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = 8080
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener_rule.api]
}

resource "aws_ecs_service" "mcp" {
  name                              = "mcp"
  cluster                           = aws_ecs_cluster.platform.id
  task_definition                   = aws_ecs_task_definition.service["mcp"].arn
  desired_count                     = var.mcp_desired_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false
  health_check_grace_period_seconds = 60

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.mcp.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.mcp.arn
    container_name   = "mcp"
    container_port   = 8081
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener_rule.mcp]
}
