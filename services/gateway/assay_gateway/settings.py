"""Settings of the gateway (env prefix `ASSAY_GATEWAY_`, see `assay_common.config`)."""

from typing import ClassVar

from pydantic import Field, SecretStr

from assay_common.config import CommonSettings


class GatewaySettings(CommonSettings):
    service_name: ClassVar[str] = "gateway"
    port: int = 8080
    # The gateway is the edge: a client's own X-Forwarded-* headers are not to be believed.
    proxy_headers: bool = False
    workflow_url: str = Field(default="http://127.0.0.1:8081", description="Base URL of the workflow service")
    auth_url: str = Field(default="http://127.0.0.1:8082", description="Base URL of the auth service")
    vault_url: str = Field(default="http://127.0.0.1:8083", description="Base URL of the vault service")
    dashboard_url: str = Field(default="http://127.0.0.1:8084", description="Base URL of the dashboard")
    internal_signing_key: SecretStr = Field(
        default=SecretStr(""), description="Ed25519 private key (PEM) that signs internal tokens"
    )
    upstream_timeout_seconds: float = Field(default=30.0, description="Upstream answer timeout → 504")
    upstream_connect_timeout_seconds: float = Field(default=2.0, description="Upstream connect timeout → 502")
    upstream_max_connections: int = Field(
        default=1000, ge=1, description="Connections the gateway keeps open to all services together"
    )
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long the auth service's answer about a session or API key is reused: a "
        "revoked credential stops working within this window",
    )
    health_timeout_seconds: float = Field(
        default=2.0, gt=0, description="How long `/api/v1/health` waits for each service's /readyz"
    )
    openapi_cache_seconds: float = Field(
        default=60.0, ge=0, description="How long a service's fetched OpenAPI document is reused"
    )
    sse_keepalive_seconds: float = Field(
        default=15.0, gt=0, description="Interval of SSE keep-alive comments"
    )
    sse_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Heartbeat of each SSE client's JetStream consumer; two missed beats recreate it",
    )
