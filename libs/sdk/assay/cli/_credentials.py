"""What `assay login` keeps: one API key per platform (API URL), in a file only its owner reads.

`$ASSAY_CREDENTIALS_FILE`, else `$XDG_CONFIG_HOME/assay/credentials.json`
(`~/.config/assay/credentials.json`). JSON rather than TOML: the standard library reads and
writes it. The file is written whole to a temporary file beside it and renamed over it, so a
crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CREDENTIALS_ENV = "ASSAY_CREDENTIALS_FILE"


class CredentialsUnreadable(Exception):
    """The credentials file exists but cannot be read as one."""


@dataclass(frozen=True)
class StoredLogin:
    api_key: str
    email: str | None
    #: The key's id when `assay login` made the key (then `assay logout` revokes it).
    api_key_id: str | None = None


def credentials_path() -> Path:
    explicit = os.environ.get(CREDENTIALS_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "assay" / "credentials.json"


def _load_all(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CredentialsUnreadable(f"cannot read the credentials file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("platforms", {}), dict):
        raise CredentialsUnreadable(f"{path} is not an assay credentials file")
    return data


def stored_login(api_url: str) -> StoredLogin | None:
    """What `assay login` stored for `api_url`, if anything."""
    entry = _load_all(credentials_path()).get("platforms", {}).get(api_url.rstrip("/"))
    if not isinstance(entry, dict) or not isinstance(entry.get("api_key"), str):
        return None
    return StoredLogin(api_key=entry["api_key"], email=entry.get("email"), api_key_id=entry.get("api_key_id"))


def store_login(api_url: str, login: StoredLogin) -> Path:
    path = credentials_path()
    data = _load_all(path)
    data.setdefault("platforms", {})[api_url.rstrip("/")] = asdict(login)
    _write(path, data)
    return path


def forget_login(api_url: str) -> bool:
    """Remove what is stored for `api_url`; whether there was anything."""
    path = credentials_path()
    data = _load_all(path)
    if data.get("platforms", {}).pop(api_url.rstrip("/"), None) is None:
        return False
    _write(path, data)
    return True


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
