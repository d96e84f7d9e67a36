"""Traces (OpenTelemetry, W3C traceparent over HTTP and NATS), JSON logs with trace ids, metrics."""

from __future__ import annotations

import logging
import sys
import time

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pythonjsonlogger.json import JsonFormatter
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay_common.db import uuid7

REQUESTS = Counter("assay_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "assay_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_configured = False
access_log = logging.getLogger("assay.access")
#: Probes and scrapes would drown the access log.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
#: The W3C trace context fields a request may carry.
_TRACE_FIELDS = frozenset({b"traceparent", b"tracestate"})


class _TraceIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


def configure(
    service: str, *, log_level: str = "INFO", log_json: bool = True, otlp_endpoint: str | None = None
) -> None:
    """Set up logging and tracing for this process (once; later calls are ignored)."""
    global _configured
    if _configured:
        return
    _configured = True
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceIds())
    if log_json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level.upper())
    # Access logs are replaced by our metrics; uvicorn's own logger keeps start-up messages.
    logging.getLogger("uvicorn.access").disabled = True

    # With nowhere to send spans, none is recorded (a caller's sampled trace still is): trace ids
    # still travel and reach the logs, without the cost of recording every request's spans.
    sampler = ParentBased(ALWAYS_ON if otlp_endpoint else ALWAYS_OFF)
    provider = TracerProvider(resource=Resource.create({"service.name": f"assay-{service}"}), sampler=sampler)
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def inject_trace_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add `traceparent` (and `tracestate`) of the current span to outgoing headers."""
    propagate.inject(headers)
    return headers


class TelemetryMiddleware:
    """Per request: a server span continuing the caller's trace, a request id, and metrics.

    Pure ASGI (not BaseHTTPMiddleware) so that streaming responses pass through untouched.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self.tracer = trace.get_tracer(f"assay.{service}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # One pass over the raw fields (a `Request` would decode every one of them).
        carrier: dict[str, str] = {}
        given_id = ""
        for name, value in scope["headers"]:
            if name in _TRACE_FIELDS:
                carrier.setdefault(name.decode(), value.decode("latin-1"))
            elif name == b"x-request-id" and not given_id:
                given_id = value.decode("latin-1")
        request_id = given_id or str(uuid7())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        method = scope["method"]

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        context = propagate.extract(carrier)
        with self.tracer.start_as_current_span(
            f"{method} {scope['path']}",
            context=context,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = _route_template(scope)
                elapsed = time.perf_counter() - started
                span.set_attribute("http.response.status_code", status)
                REQUESTS.labels(self.service, method, route, str(status)).inc()
                LATENCY.labels(self.service, method, route).observe(elapsed)
                if route not in _QUIET_ROUTES:
                    access_log.info(
                        "%s %s %d",
                        method,
                        scope["path"],
                        status,
                        extra={
                            "method": method,
                            "path": scope["path"],
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 2),
                            "request_id": request_id,
                        },
                    )


def _route_template(scope: Scope) -> str:
    """The matched route's path template, so metrics do not explode per id."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
