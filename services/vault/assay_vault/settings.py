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
