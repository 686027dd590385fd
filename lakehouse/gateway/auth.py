"""Password authentication with Trino's password file (``file`` password authenticator).

The same file works for production Trino (``password-authenticator.name=file``,
``file.password-file=…``) and for the gateway: one ``user:hash`` line per user, bcrypt
(``$2y$``, cost ≥ 8, what ``htpasswd -B -C 10`` writes) or PBKDF2 (``iterations:salt:hash``,
hex, HMAC-SHA256). A bcrypt check costs ~50 ms by design, and every ``nextUri`` request
carries the credentials again, so a verified pair is remembered (as a salted SHA-256, never
the password) until the file changes, as Trino's ``file.auth-token-cache`` does.

Passwords are never committed: :func:`add_user` generates one when none is given and prints
it once (``python -m lakehouse.gateway.auth USER [--password-file PATH]``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import secrets
import sys
import threading
from pathlib import Path

import bcrypt

BCRYPT_COST = 10


class PasswordFile:
    """Verifies ``Authorization: Basic`` credentials against a Trino password file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._stamp = -1
        self._hashes: dict[str, str] = {}
        self._verified: set[bytes] = set()
        self._salt = os.urandom(16)
        self._lock = threading.Lock()

    def _load(self) -> None:
        stamp = self.path.stat().st_mtime_ns
        if stamp == self._stamp:
            return
        hashes = {}
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, digest = line.partition(":")
            if not sep or not user or not digest:
                raise ValueError(f"{self.path}:{number}: expected 'user:hash'")
            hashes[user] = digest
        self._hashes, self._verified, self._stamp = hashes, set(), stamp

    def verify(self, user: str, password: str) -> bool:
        with self._lock:
            self._load()
            digest = self._hashes.get(user)
            token = hashlib.sha256(self._salt + user.encode() + b"\0" + password.encode()).digest()
            if token in self._verified:
                return True
        if digest is None or not _check(password, digest):
            return False
        with self._lock:
            self._verified.add(token)
        return True

    def authenticate(self, header: str | None) -> str | None:
        """The user of a valid ``Basic`` header, else None."""
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if user and self.verify(user, password) else None


def _check(password: str, digest: str) -> bool:
    if digest.startswith("$2"):
        # Trino writes $2y$ (htpasswd); the algorithm is the same as $2b$.
        return bcrypt.checkpw(password.encode(), digest.replace("$2y$", "$2b$", 1).encode())
    iterations, _, rest = digest.partition(":")
    salt, _, expected = rest.partition(":")
    if not (iterations.isdigit() and salt and expected):
        return False
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations),
                                  dklen=len(expected) // 2)
    return hmac.compare_digest(derived.hex(), expected.lower())


def hash_password(password: str) -> str:
    """A bcrypt hash in the ``$2y$`` form Trino's password file requires."""
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()
    return digest.replace("$2b$", "$2y$", 1)


def add_user(path: Path, user: str, password: str | None = None) -> str:
    """Add or replace ``user`` in the password file (created 0600); returns the password."""
    if not user or ":" in user or any(c.isspace() for c in user):
        raise ValueError(f"invalid user name {user!r}")
    password = password or secrets.token_urlsafe(18)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [line for line in (path.read_text(encoding="utf-8").splitlines() if path.exists() else [])
             if line.partition(":")[0] != user]
    lines.append(f"{user}:{hash_password(password)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return password


def main(argv: list[str] | None = None) -> None:
    from lakehouse.settings import get_settings

    parser = argparse.ArgumentParser(description="Add a user to the SQL gateway's (and Trino's) password file.")
    parser.add_argument("user")
    parser.add_argument("--password-file", type=Path, default=None)
    parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    args = parser.parse_args(argv)
    path = args.password_file or get_settings().sql_gateway_password_path
    if path is None:
        parser.error("no password file: pass --password-file or set IOC_SQL_GATEWAY_PASSWORD_FILE")
    password = add_user(path, args.user, sys.stdin.readline().rstrip("\n") if args.password_stdin else None)
    if not args.password_stdin:
        print(f"{args.user}: {password}")


if __name__ == "__main__":
    main()


__all__ = ["PasswordFile", "add_user", "hash_password"]
