"""The rules of the auth service: users, passwords, sessions, throttling, API keys, audit."""
