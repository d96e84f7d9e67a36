"""`python -m assay_vault`: serve the vault service."""

from assay_common.service import serve
from assay_vault.app import create_app
from assay_vault.settings import VaultSettings

if __name__ == "__main__":
    settings = VaultSettings()
    # Vault clients list with the method `LIST`.
    serve(create_app(settings), settings, list_method=True)
