"""The payload of every event Assay publishes, by service. One definition, shared by the
publishing service, the gateway's catalogue and the SDK's typed events."""

from assay_common.events.schemas import access, auth, vault, vault_audit, workflow

__all__ = ["access", "auth", "vault", "vault_audit", "workflow"]
