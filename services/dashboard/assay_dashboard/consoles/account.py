"""Signing in and out, the first administrator, password recovery, consent, and the signed-in
user's own account. The sign-in pages are public: they are shells, and what they do goes through
the auth API."""

from assay_dashboard.console import page

page("/login", title="Sign in", template="account/login.html", needs="public", script="pages/login.js")
page("/logout", title="Sign out", template="account/logout.html", needs="public", script="pages/logout.js")
page(
    "/recovery",
    title="Recover your account",
    template="account/recovery.html",
    needs="public",
    script="pages/recovery.js",
)
page(
    "/setup",
    title="Set up the platform",
    template="account/setup.html",
    needs="public",
    script="pages/setup.js",
)
page(
    "/consent",
    title="Allow access",
    template="account/consent.html",
    needs="public",
    script="pages/consent.js",
)
page("/account", title="Your account", template="account/account.html", script="pages/account.js")
page(
    "/account/password",
    title="Set your password",
    template="account/password.html",
    needs="public",
    script="pages/password.js",
    # The token is in the URL's fragment: no referrer leaves this page at all.
    headers={"referrer-policy": "no-referrer"},
)
