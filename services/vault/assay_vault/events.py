"""Events the vault service publishes and follows (payloads in `assay_common.events.schemas.vault`)."""

from assay_common.events.schemas.vault import KekRotated, VaultInitialized, VaultSealed, VaultUnsealed

#: The seal's events; the KV events are defined beside them in `schemas.vault`.
PUBLISHES = (VaultInitialized, VaultSealed, VaultUnsealed, KekRotated)
#: Followed by every replica with a plain subscription (`Sealing.follow`): a seal or a new KEK
#: version made on another replica.
CONSUMES = (VaultSealed, KekRotated)
