"""The live parts of a running gateway, shared by its routes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from assay_common.events.bus import EventBus
from assay_gateway.authentication import Authenticator
from assay_gateway.authorization import Gatekeeper
from assay_gateway.biscuits import BiscuitVerifier
from assay_gateway.openapi_merge import OpenApiCatalog
from assay_gateway.proxy import Proxy
from assay_gateway.settings import GatewaySettings
from assay_gateway.upstreams import Upstreams


@dataclass(frozen=True)
class Gateway:
    settings: GatewaySettings
    version: str
    bus: EventBus
    upstreams: Upstreams
    proxy: Proxy
    authenticator: Authenticator
    biscuits: BiscuitVerifier
    gatekeeper: Gatekeeper
    catalog: OpenApiCatalog


async def gateway(request: Request) -> Gateway:
    """FastAPI dependency: the running gateway (set up at start-up by `create_app`)."""
    state: Gateway = request.app.state.gateway
    return state
