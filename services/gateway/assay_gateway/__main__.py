"""`python -m assay_gateway`: serve the gateway."""

from assay_common.service import serve
from assay_gateway.app import create_app
from assay_gateway.settings import GatewaySettings

if __name__ == "__main__":
    settings = GatewaySettings()
    # Vault clients list with the method `LIST`.
    serve(create_app(settings), settings, list_method=True)
