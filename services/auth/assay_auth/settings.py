"""Settings of the auth service (env prefix `ASSAY_AUTH_`, see `assay_common.config`)."""

from typing import ClassVar

from assay_common.config import CommonSettings


class AuthSettings(CommonSettings):
    service_name: ClassVar[str] = "auth"
    port: int = 8082
