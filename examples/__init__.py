"""Runnable examples of Assay workflows. Each subpackage is one example; its README says how to
run it against a platform started with `./run up`."""

import os

from assay.client import DEFAULT_API_URL


def api_url() -> str:
    """The API the examples talk to: `$ASSAY_API_URL`, else where `./run up` serves it."""
    return os.environ.get("ASSAY_API_URL", DEFAULT_API_URL)


def namespace() -> str:
    """The namespace the examples run in: `$ASSAY_NAMESPACE`, else `main`."""
    return os.environ.get("ASSAY_NAMESPACE", "main")
