"""The platform on one machine: what `assay up` runs."""

from assay.local.platform import (
    BootstrapAdmin,
    LocalPlatform,
    PlatformError,
    PlatformOptions,
    free_port,
)

__all__ = ["BootstrapAdmin", "LocalPlatform", "PlatformError", "PlatformOptions", "free_port"]
