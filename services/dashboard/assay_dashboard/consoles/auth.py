"""The auth console: administering identities, credentials and permissions, which the auth API
reserves to platform administrators."""

from assay_dashboard.console import page

ADMINISTER = "platform:assay#administer"

page(
    "/auth/users",
    title="Users",
    template="auth/users.html",
    nav="Auth",
    needs=ADMINISTER,
    script="pages/auth/users.js",
)
page(
    "/auth/sessions",
    title="Sessions",
    template="auth/sessions.html",
    nav="Auth",
    needs=ADMINISTER,
    script="pages/auth/sessions.js",
)
page(
    "/auth/api-keys",
    title="API keys",
    template="auth/api_keys.html",
    nav="Auth",
    needs=ADMINISTER,
    script="pages/auth/api-keys.js",
)
page(
    "/auth/permissions",
    title="Permissions",
    template="auth/permissions.html",
    nav="Auth",
    needs=ADMINISTER,
    script="pages/auth/permissions.js",
)
page(
    "/auth/keys",
    title="Signing keys",
    label="Keys",
    template="auth/keys.html",
    nav="Auth",
    needs=ADMINISTER,
    script="pages/auth/keys.js",
)
page(
    "/auth/audit",
    title="Audit log",
    label="Audit",
    template="auth/audit.html",
    nav="Auth",
    needs=ADMINISTER,
    script="pages/auth/audit.js",
)
# One user, reached from the users list; the script reads the id from the page.
page(
    "/auth/users/{user_id}",
    title="User",
    template="auth/user.html",
    needs=ADMINISTER,
    script="pages/auth/user.js",
)
