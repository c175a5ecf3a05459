"""Encryption of provider API keys at rest (Fernet, several keys for rotation).

``FERNET_KEYS`` holds comma-separated keys: the first encrypts, every one decrypts, so a new
key can be put in front while old ciphertexts still read. In development (DEBUG) without
``FERNET_KEYS`` a key is generated once into ``var/fernet.key`` so the embedded default works.
"""

from __future__ import annotations

import functools
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class KeyDecryptionError(Exception):
    """The stored key was encrypted with a Fernet key that is no longer configured."""


def _development_key() -> str:
    path = settings.VAR_DIR / "fernet.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    return path.read_text().strip()


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "FERNET_KEYS: each key must be 32 url-safe base64-encoded bytes"
        ) from None


def configured_keys() -> tuple[str, ...]:
    return tuple(settings.FERNET_KEYS) or (_development_key(),)


def fernet() -> MultiFernet:
    return _fernet(configured_keys())


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise KeyDecryptionError(
            "the stored API key cannot be decrypted with the configured FERNET_KEYS"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the first (newest) key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise KeyDecryptionError(
            "the stored API key cannot be decrypted with the configured FERNET_KEYS"
        ) from None


def mask(key: str) -> str:
    """What the UI shows of a key: its prefix and last four characters, ``sk-…abcd``."""
    if len(key) <= 8:
        return "…"
    prefix = key[:3] if key.startswith("sk-") else key[:2]
    return f"{prefix}…{key[-4:]}"
