"""The vault console. Seal status is public and anyone signed in may give an unseal share; KV and
transit need `read` on the mount shown (`?mount=`); audit sinks are for platform administrators."""

from assay_dashboard.console import page

page(
    "/vault/seal",
    title="Seal",
    template="vault/seal.html",
    nav="Vault",
    script="pages/vault/seal.js",
)
page(
    "/vault/kv",
    title="KV secrets",
    label="KV",
    template="vault/kv.html",
    nav="Vault",
    needs="vault_mount:{query.mount|secret}#read",
    script="pages/vault/kv.js",
)
page(
    "/vault/transit",
    title="Transit",
    template="vault/transit.html",
    nav="Vault",
    needs="vault_mount:{query.mount|transit}#read",
    script="pages/vault/transit.js",
)
page(
    "/vault/audit",
    title="Audit sinks",
    template="vault/audit.html",
    nav="Vault",
    needs="platform:assay#administer",
    script="pages/vault/audit.js",
)
