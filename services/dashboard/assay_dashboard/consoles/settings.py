"""Platform settings: what the services run, and where the API and event references are, for
those who view the platform."""

from assay_dashboard.console import page

page(
    "/settings",
    title="Settings",
    template="settings/settings.html",
    nav="Settings",
    needs="platform:assay#view",
    script="pages/settings.js",
)
