"""Settings of the gateway (env prefix `ASSAY_GATEWAY_`, see `assay_common.config`)."""

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from assay_common.config import CommonSettings


class TrustedIssuer(BaseModel):
    """An external OpenID Connect issuer whose JWTs the gateway accepts as bearer tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(
        description="The issuer URL, exactly as its tokens' `iss` says; its keys are found through "
        "`<issuer>/.well-known/openid-configuration`"
    )
    alias: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$",
        description="Short name of the issuer: principals are `<alias>:<principal claim>`",
    )
    audience: str = Field(min_length=1, description="The `aud` the tokens must carry (the client id)")
    principal_claim: str = Field(default="sub", min_length=1, description="The claim naming the principal")
    scopes_claim: str | None = Field(
        default=None, description="A claim listing the principal's scopes (a list or space-separated)"
    )

    @field_validator("issuer")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{value!r}: give the issuer's URL, such as https://id.example.com/realms/main")
        return value


class GatewaySettings(CommonSettings):
    service_name: ClassVar[str] = "gateway"
    port: int = 8080
    # The gateway is the edge: a client's own X-Forwarded-* headers are not to be believed.
    proxy_headers: bool = False
    workflow_url: str = Field(
        default="http://127.0.0.1:8081",
        description="Base URL of the workflow service; several, separated by commas, are replicas used in "
        "turn (a replica that refuses a connection passes the request to the next)",
    )
    auth_url: str = Field(
        default="http://127.0.0.1:8082", description="Base URL(s) of the auth service (as workflow_url)"
    )
    vault_url: str = Field(
        default="http://127.0.0.1:8083", description="Base URL(s) of the vault service (as workflow_url)"
    )
    dashboard_url: str = Field(
        default="http://127.0.0.1:8084", description="Base URL(s) of the dashboard (as workflow_url)"
    )
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
    biscuit_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=1.0,
        description="How long the auth service's verdict on a bearer biscuit for one request's facts "
        "is reused (at most a second; a revocation event ends it at once)",
    )
    max_authorized_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="The largest request body the gateway reads to find the object a route's "
        "permission is on (starting a workflow, registering a worker); larger ones are refused with 413",
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
    token_audience: str = Field(
        default="assay", min_length=1, description="The `aud` Assay's own JWTs must carry"
    )
    trusted_issuers: list[TrustedIssuer] = Field(
        default_factory=list, description="External OIDC issuers whose JWTs are accepted as bearer tokens"
    )
    jwt_leeway_seconds: int = Field(
        default=30, ge=0, le=300, description="Clock skew allowed when checking a JWT's exp, nbf and iat"
    )
    jwks_cache_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long an issuer's fetched public keys are used before a new fetch",
    )
    jwks_refresh_interval_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Shortest interval between two fetches of one issuer's keys when a token names an "
        "unknown key",
    )
    sse_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Heartbeat of each SSE client's JetStream consumer; two missed beats recreate it",
    )
