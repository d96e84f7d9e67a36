"""The console's pages, one module per area; importing this package declares them all (each
module's pages in the order of the navigation within its group)."""

from assay_dashboard.console import PAGES, Registry
from assay_dashboard.consoles import account, auth, overview, settings, vault, workflows

__all__ = ["account", "auth", "declared", "overview", "settings", "vault", "workflows"]


def declared() -> Registry:
    """Every page of the console."""
    return PAGES
