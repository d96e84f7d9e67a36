"""Settings of the vault service (env prefix `ASSAY_VAULT_`, see `assay_common.config`)."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from assay_common.config import CommonSettings


class VaultSettings(CommonSettings):
    service_name: ClassVar[str] = "vault"
    port: int = 8083
    seal_check_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often each replica checks that the vault was not sealed elsewhere (the "
        "`sealed` event normally says so at once)",
    )
    auto_unseal_key_file: Path | None = Field(
        default=None,
        description="Development only, unsafe in production: a file of unseal key shares (one per "
        "line) the vault unseals itself with at start; `assay up` makes one",
    )
    transit_rotation_check_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often each replica rotates the transit keys whose `auto_rotate_period` has "
        "passed since their latest version (a key is rotated once however many replicas look)",
    )
    audit_retry_initial_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How long an audit sink's delivery waits after its first failure before trying "
        "again; each further failure doubles the wait, up to `audit_retry_max_seconds`",
    )
    audit_retry_max_seconds: float = Field(
        default=10.0, gt=0, description="The longest wait between two attempts to deliver to an audit sink"
    )
    audit_lease_seconds: float = Field(
        default=10.0,
        ge=1,
        description="How long a replica's claim to deliver to an audit sink lasts unless renewed: "
        "how soon another replica takes over from one that died",
    )
    audit_reconcile_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often each replica compares the audit sinks it delivers to with the table "
        "(the sink events normally tell it at once)",
    )
