# Security groups. Reachability:
#   internet/VPN --443/80--> ALB --3000--> webserver
#                            ALB --8080--> forecast API (/v1 rule)
#                            ALB --8081--> MCP server (/mcp rule)
#   webserver, daemon --4000--> code server (gRPC)
#   webserver, daemon, code server, api, mcp --5432--> RDS     (nothing else reaches RDS)
#   ECS tasks --443--> AWS APIs / ECR / stats API / Slack; code server --smtp_port--> mail relay
# The webserver accepts traffic only from the ALB's security group.

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "ALB in front of the Dagster webserver"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "webserver" {
  name        = "${local.name}-webserver"
  description = "Dagster webserver tasks (reachable only from the ALB)"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "daemon" {
  name        = "${local.name}-daemon"
  description = "Dagster daemon task (no inbound)"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "code_server" {
  name        = "${local.name}-code-server"
  description = "Dagster code server tasks (gRPC from webserver and daemon)"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "api" {
  name        = "${local.name}-api"
  description = "Forecast API tasks (reachable only from the ALB)"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "mcp" {
  name        = "${local.name}-mcp"
  description = "MCP server tasks (reachable only from the ALB)"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "rds" {
  name        = "${local.name}-rds"
  description = "PostgreSQL (reachable only from the platform's ECS tasks)"
  vpc_id      = var.vpc_id
}

locals {
  ecs_security_groups = {
    webserver   = aws_security_group.webserver.id
    daemon      = aws_security_group.daemon.id
    code-server = aws_security_group.code_server.id
    api         = aws_security_group.api.id
    mcp         = aws_security_group.mcp.id
  }
}

# --- ALB ----------------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS to the ALB (OIDC-authenticated)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP to the ALB (redirect to HTTPS only)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_webserver" {
  security_group_id            = aws_security_group.alb.id
  description                  = "ALB to webserver tasks"
  ip_protocol                  = "tcp"
  from_port                    = 3000
  to_port                      = 3000
  referenced_security_group_id = aws_security_group.webserver.id
}

# The ALB calls the identity provider's token and user-info endpoints itself.
resource "aws_vpc_security_group_egress_rule" "alb_to_idp" {
  security_group_id = aws_security_group.alb.id
  description       = "ALB to the OIDC provider (token / user info endpoints)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- webserver ----------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "webserver_from_alb" {
  security_group_id            = aws_security_group.webserver.id
  description                  = "Dagster UI, from the ALB only"
  ip_protocol                  = "tcp"
  from_port                    = 3000
  to_port                      = 3000
  referenced_security_group_id = aws_security_group.alb.id
}

# --- forecast API -------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "Forecast API, from the ALB only"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "ALB to forecast API tasks"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.api.id
}

# --- MCP server ---------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "mcp_from_alb" {
  security_group_id            = aws_security_group.mcp.id
  description                  = "MCP server, from the ALB only"
  ip_protocol                  = "tcp"
  from_port                    = 8081
  to_port                      = 8081
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_mcp" {
  security_group_id            = aws_security_group.alb.id
  description                  = "ALB to MCP server tasks"
  ip_protocol                  = "tcp"
  from_port                    = 8081
  to_port                      = 8081
  referenced_security_group_id = aws_security_group.mcp.id
}

# --- code server --------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "code_server_grpc" {
  for_each = {
    webserver = aws_security_group.webserver.id
    daemon    = aws_security_group.daemon.id
  }

  security_group_id            = aws_security_group.code_server.id
  description                  = "gRPC from the ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 4000
  to_port                      = 4000
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "to_code_server" {
  for_each = {
    webserver = aws_security_group.webserver.id
    daemon    = aws_security_group.daemon.id
  }

  security_group_id            = each.value
  description                  = "${each.key} to the code server (gRPC)"
  ip_protocol                  = "tcp"
  from_port                    = 4000
  to_port                      = 4000
  referenced_security_group_id = aws_security_group.code_server.id
}

# --- RDS ----------------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "rds_from_ecs" {
  for_each = local.ecs_security_groups

  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "ecs_to_rds" {
  for_each = local.ecs_security_groups

  security_group_id            = each.value
  description                  = "${each.key} to PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.rds.id
}

# --- outbound from the tasks --------------------------------------------------------------------
resource "aws_vpc_security_group_egress_rule" "ecs_https" {
  for_each = local.ecs_security_groups

  security_group_id = each.value
  description       = "${each.key} to AWS APIs, ECR, the stats API (HTTPS)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# E-mail alerts are sent by sensors and runs, which both execute in the code server.
resource "aws_vpc_security_group_egress_rule" "code_server_smtp" {
  security_group_id = aws_security_group.code_server.id
  description       = "code server to the SMTP relay (alerts)"
  ip_protocol       = "tcp"
  from_port         = var.smtp_port
  to_port           = var.smtp_port
  cidr_ipv4         = "0.0.0.0/0"
}
