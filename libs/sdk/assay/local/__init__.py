"""The platform on one machine: what `assay up` runs."""

from assay.local.platform import LocalPlatform, PlatformError, PlatformOptions, free_port

__all__ = ["LocalPlatform", "PlatformError", "PlatformOptions", "free_port"]
