"""The overview (`/`): the platform's health, versions and latest events."""

from assay_dashboard.console import page

page("/", title="Overview", template="overview.html", nav="Overview", script="pages/overview.js")
