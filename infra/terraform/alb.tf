# The Dagster UI has no authentication of its own, so it is never served without the ALB's OIDC
# authentication: the HTTPS listener authenticates first (order 1) and only then forwards
# (order 2); the HTTP listener only redirects to HTTPS. There are no other listeners, and two rules,
# both without OIDC because their targets authenticate every request themselves (the API's JWT
# bearer tokens with scopes): the forecast API's own paths (/v1/*, its docs and probes) go to the
# API tasks, and the MCP server's (/mcp, /mcp/*, its OAuth protected-resource metadata) to the MCP
# tasks. /metrics is not routed: Prometheus scrapes the tasks inside the VPC.

resource "aws_lb" "webserver" {
  name                       = "${local.name}-ui"
  load_balancer_type         = "application"
  internal                   = var.alb_internal
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  idle_timeout               = 120
}

resource "aws_lb_target_group" "webserver" {
  name                 = "${local.name}-webserver"
  port                 = 3000
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/server_info"
    matcher             = "200"
    interval            = 30
    timeout             = 10
    healthy_threshold   = 2
    unhealthy_threshold = 5
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.webserver.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type  = "authenticate-oidc"
    order = 1

    authenticate_oidc {
      issuer                     = var.oidc_issuer
      authorization_endpoint     = var.oidc_authorization_endpoint
      token_endpoint             = var.oidc_token_endpoint
      user_info_endpoint         = var.oidc_user_info_endpoint
      client_id                  = var.oidc_client_id
      client_secret              = var.oidc_client_secret
      scope                      = var.oidc_scope
      session_cookie_name        = "${local.name}-auth"
      session_timeout            = var.oidc_session_timeout_seconds
      on_unauthenticated_request = "authenticate"
    }
  }

  default_action {
    type             = "forward"
    order            = 2
    target_group_arn = aws_lb_target_group.webserver.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.webserver.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

# --- forecast API -------------------------------------------------------------------------------
resource "aws_lb_target_group" "api" {
  name                 = "${local.name}-api"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/readyz" # the serving database reachable
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener_rule" "api" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    path_pattern {
      values = ["/v1/*", "/docs", "/openapi.json", "/healthz", "/readyz"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

# --- MCP server (streamable HTTP) ---------------------------------------------------------------
resource "aws_lb_target_group" "mcp" {
  name                 = "${local.name}-mcp"
  port                 = 8081
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  # An MCP session lives in the task that opened it (mcp-session-id): keep a client on its task.
  stickiness {
    type            = "lb_cookie"
    enabled         = true
    cookie_duration = 86400
  }

  # /mcp answers 401 without a token; the protected-resource metadata answers 200 without one.
  health_check {
    path                = "/.well-known/oauth-protected-resource/mcp"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener_rule" "mcp" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 20

  condition {
    path_pattern {
      values = ["/mcp", "/mcp/*", "/.well-known/oauth-protected-resource/mcp"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.mcp.arn
  }
}
