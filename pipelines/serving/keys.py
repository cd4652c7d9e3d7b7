"""API keys with two roles, `caller` and `admin`, configured as hashes (never the keys).

`MLOPS_SERVING_API_KEYS` holds `role:sha256hex` entries separated by commas; `mlops serve-key
--role caller` makes a key, prints it once and prints the entry to configure. A key is a 32-byte
random token, so one SHA-256 is enough (a slow, salted hash is for passwords people choose)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

ROLES = ("caller", "admin")
KEYS_VARIABLE = "MLOPS_SERVING_API_KEYS"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ApiKeys:
    """Hashed keys and their roles; `role_of(key)` is None for an unknown key."""

    hashed: tuple[tuple[str, str], ...]  # (sha256 hex, role)

    @classmethod
    def parse(cls, configured: str) -> ApiKeys:
        entries = []
        for entry in filter(None, (part.strip() for part in configured.split(","))):
            role, _, digest = entry.partition(":")
            if role not in ROLES or len(digest) != 64:
                raise ValueError(
                    f"{KEYS_VARIABLE}: {entry[:12]}… is not 'caller:<sha256>' or 'admin:<sha256>'"
                )
            entries.append((digest.lower(), role))
        return cls(tuple(entries))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiKeys:
        keys = cls.parse(environ.get(KEYS_VARIABLE, ""))
        if not keys.hashed:
            raise ValueError(
                f"{KEYS_VARIABLE} is not set: make a key with `mlops serve-key --role caller` "
                f"(and one with --role admin) and set the entries it prints"
            )
        return keys

    def role_of(self, key: str | None) -> str | None:
        if not key:
            return None
        digest = hash_key(key)
        role = None
        for known, known_role in self.hashed:  # every entry compared: no early exit to time
            if hmac.compare_digest(known, digest):
                role = known_role
        return role
