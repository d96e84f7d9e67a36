"""`python -m assay_auth`: serve the auth service."""

from assay_auth.app import create_app
from assay_auth.settings import AuthSettings
from assay_common.service import serve

if __name__ == "__main__":
    settings = AuthSettings()
    serve(create_app(settings), settings)
