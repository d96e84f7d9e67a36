"""Settings of the vault service (env prefix `ASSAY_VAULT_`, see `assay_common.config`)."""

from typing import ClassVar

from assay_common.config import CommonSettings


class VaultSettings(CommonSettings):
    service_name: ClassVar[str] = "vault"
    port: int = 8083
