"""API keys: the named SHA-256 hashes the server checks keys against, and a maker of new keys.

The server holds hashes only, so its environment, logs and memory never hold a
key that works. `python -m server.keys new NAME` prints a fresh key and the
line that configures its hash.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

API_KEYS_ENV = "API_KEY_SHA256S"
METRICS_KEYS_ENV = "METRICS_API_KEY_SHA256S"
REQUIRE_KEYS_ENV = "REQUIRE_API_KEYS"  # "true" where a server must not run open
KEY_BYTES = 32  # 256 random bits, 43 URL-safe characters
# Names go to the access log and a metrics label: short, and nothing to escape.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
# Longer than any key this module makes; a longer header is not worth hashing.
MAX_KEY_LENGTH = 256


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True)
class KeyRing:
    """Named key hashes; empty means no key is configured."""

    digests: tuple[tuple[str, bytes], ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.digests)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.digests]

    def name_of(self, key: str) -> str | None:
        """The name of the configured key `key` is, else None.

        Compares against every hash, with no early exit, in constant time per
        hash: how long it takes says nothing about how close a guess came.
        """
        if len(key) > MAX_KEY_LENGTH:
            return None
        presented = key_digest(key)
        found = None
        for name, digest in self.digests:
            if hmac.compare_digest(presented, digest):
                found = name
        return found


def parse_key_hashes(text: str) -> KeyRing:
    """`name:sha256hex` pairs separated by commas (whitespace ignored).

    Raises ValueError saying which entry is wrong and what it should look like.
    """
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    digests: list[tuple[str, bytes]] = []
    for position, entry in enumerate(entries, 1):
        name, colon, hexdigest = (part.strip() for part in entry.partition(":"))
        if not colon or not _NAME.fullmatch(name) or not _SHA256_HEX.fullmatch(hexdigest):
            raise ValueError(
                f"entry {position} is not NAME:SHA256 (a name of up to 32 letters, digits, "
                "'.', '_' or '-', a colon, 64 hex digits); `python -m server.keys new NAME` "
                "prints a valid one"
            )
        if name in (n for n, _ in digests):
            raise ValueError(f"the name {name!r} is given twice: each key needs its own name")
        digests.append((name, bytes.fromhex(hexdigest)))
    if len({d for _, d in digests}) < len(digests):
        raise ValueError("the same hash is given under two names: each key needs its own hash")
    return KeyRing(tuple(digests))


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def configuration_entry(name: str, key: str) -> str:
    return f"{name}:{key_digest(key).hex()}"


def open_mode_warning(api_keys: KeyRing) -> str | None:
    """The warning to log at start when no API key is configured, else None."""
    if api_keys:
        return None
    return (
        f"NO API KEYS CONFIGURED: /predictdata, /model, /openapi.json and /metrics answer "
        f"ANYONE who reaches this server. Fine on your own machine; anywhere else set "
        f"{API_KEYS_ENV} (and {METRICS_KEYS_ENV} for /metrics if you like) and "
        f"{REQUIRE_KEYS_ENV}=true. See docs/access-control.md."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m server.keys", description="Make API keys for studypredict."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("new", help="print a new random key and the line to configure")
    make.add_argument("name", help="a short name for who holds the key, e.g. district-sis")
    make.add_argument(
        "--metrics", action="store_true", help=f"a key for GET /metrics only ({METRICS_KEYS_ENV})"
    )
    args = parser.parse_args(argv)
    if not _NAME.fullmatch(args.name):
        parser.error(f"name {args.name!r}: use up to 32 letters, digits, '.', '_' or '-'")
    key = new_key()
    variable = METRICS_KEYS_ENV if args.metrics else API_KEYS_ENV
    print(f"key (give it to {args.name}; it is shown once and the server never stores it):")
    print(f"  {key}")
    print("configure its hash (add it, comma-separated, to keys already there):")
    print(f"  {variable}={configuration_entry(args.name, key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
