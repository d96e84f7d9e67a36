"""HTTP routes of the dashboard: pages and their static assets."""
