"""Settings of the gateway (env prefix `ASSAY_GATEWAY_`, see `assay_common.config`)."""

from typing import ClassVar

from pydantic import Field, SecretStr

from assay_common.config import CommonSettings


class GatewaySettings(CommonSettings):
    service_name: ClassVar[str] = "gateway"
    port: int = 8080
    workflow_url: str = Field(default="http://127.0.0.1:8081", description="Base URL of the workflow service")
    auth_url: str = Field(default="http://127.0.0.1:8082", description="Base URL of the auth service")
    vault_url: str = Field(default="http://127.0.0.1:8083", description="Base URL of the vault service")
    dashboard_url: str = Field(default="http://127.0.0.1:8084", description="Base URL of the dashboard")
    internal_signing_key: SecretStr = Field(
        default=SecretStr(""), description="Ed25519 private key (PEM) that signs internal tokens"
    )
    upstream_timeout_seconds: float = Field(default=30.0, description="Upstream answer timeout → 504")
    upstream_connect_timeout_seconds: float = Field(default=2.0, description="Upstream connect timeout → 502")
    sse_keepalive_seconds: float = Field(default=15.0, description="Interval of SSE keep-alive comments")
