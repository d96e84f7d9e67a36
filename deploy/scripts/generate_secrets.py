"""Generate the secrets an Assay deployment needs.

* the internal Ed25519 key pair: the gateway signs internal tokens with the private key, every other
  service verifies them with the public key;
* the key that seals the auth service's token-signing keys in its database (a Fernet key);
* the database URL (and, for the bundled Postgres of compose.yaml, its password).

Two forms of output:

    python generate_secrets.py files DIR
        Writes one file per secret into DIR (used by compose.yaml's `keygen` service). Files that
        already exist are kept, so running it again never rotates a key or a password by surprise.

    python generate_secrets.py k8s --database-url URL [--name assay-secrets]
        Prints a Kubernetes Secret manifest (JSON, which kubectl accepts) with a fresh key pair and
        the given database URL:  ... | kubectl apply -n assay -f -

Runs with the Python of the Assay image or of the repository's virtualenv.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from cryptography.fernet import Fernet

from assay_common.internal_auth import generate_private_key_pem, public_key_pem

SIGNING_KEY = "internal_signing_key.pem"
VERIFY_KEY = "internal_verify_key.pem"
DATABASE_URL = "database_url"
POSTGRES_PASSWORD = "postgres_password"
SIGNING_KEY_SEAL = "auth_signing_key_encryption_key"


def key_pair() -> dict[str, str]:
    private = generate_private_key_pem()
    return {SIGNING_KEY: private.decode(), VERIFY_KEY: public_key_pem(private).decode()}


def database_url(password: str, host: str, port: int, user: str, database: str) -> str:
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}"


def write_new(path: Path, content: str) -> bool:
    """Create `path` readable by its owner only; an existing file is left as it is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return True


def write_files(directory: Path, host: str, port: int, user: str, database: str) -> list[str]:
    """Fill `directory` with every missing secret; returns the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    if not (directory / SIGNING_KEY).exists():
        # A public key left without its private key belongs to no one: replace it with the new pair's.
        (directory / VERIFY_KEY).unlink(missing_ok=True)
        if write_new(directory / SIGNING_KEY, generate_private_key_pem().decode()):
            written.append(SIGNING_KEY)
    private = (directory / SIGNING_KEY).read_bytes()
    if write_new(directory / VERIFY_KEY, public_key_pem(private).decode()):
        written.append(VERIFY_KEY)
    if write_new(directory / SIGNING_KEY_SEAL, Fernet.generate_key().decode()):
        written.append(SIGNING_KEY_SEAL)
    if write_new(directory / POSTGRES_PASSWORD, secrets.token_urlsafe(32)):
        written.append(POSTGRES_PASSWORD)
    password = (directory / POSTGRES_PASSWORD).read_text().strip()
    if write_new(directory / DATABASE_URL, database_url(password, host, port, user, database)):
        written.append(DATABASE_URL)
    return written


def k8s_secret(name: str, url: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "assay"}},
        "type": "Opaque",
        "stringData": {**key_pair(), SIGNING_KEY_SEAL: Fernet.generate_key().decode(), DATABASE_URL: url},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    files = commands.add_parser("files", help="write missing secrets as files into a directory")
    files.add_argument("directory", type=Path)
    files.add_argument("--postgres-host", default="postgres")
    files.add_argument("--postgres-port", type=int, default=5432)
    files.add_argument("--postgres-user", default="assay")
    files.add_argument("--postgres-db", default="assay")
    k8s = commands.add_parser("k8s", help="print a Kubernetes Secret manifest")
    k8s.add_argument("--database-url", required=True, help="postgresql://user:password@host:5432/db")
    k8s.add_argument("--name", default="assay-secrets")
    args = parser.parse_args(argv)

    if args.command == "files":
        written = write_files(
            args.directory, args.postgres_host, args.postgres_port, args.postgres_user, args.postgres_db
        )
        kept = "all present already" if not written else "wrote " + ", ".join(written)
        print(f"secrets in {args.directory}: {kept}", file=sys.stderr)
    else:
        json.dump(k8s_secret(args.name, args.database_url), sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
