"""HTTP routes of the dashboard: the pages (`assay_dashboard.console`) and their static assets."""
