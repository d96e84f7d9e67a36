"""`python -m assay_dashboard`: serve the dashboard."""

from assay_common.service import serve
from assay_dashboard.app import create_app
from assay_dashboard.settings import DashboardSettings

if __name__ == "__main__":
    settings = DashboardSettings()
    serve(create_app(settings), settings)
