"""Settings of the dashboard (env prefix `ASSAY_DASHBOARD_`, see `assay_common.config`)."""

from typing import ClassVar

from assay_common.config import CommonSettings


class DashboardSettings(CommonSettings):
    service_name: ClassVar[str] = "dashboard"
    port: int = 8084
