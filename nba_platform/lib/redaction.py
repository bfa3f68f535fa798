"""Secret values known to this process, and keeping them out of text that leaves it.

The secrets resource remembers every value it hands out (`remember_secret`); log formatting
(`lib/json_logs.py`) and the resources that put a password into a connection string
(`exceptions_scrubbed`) replace those values, and secret-looking patterns (`lib.alerts.scrub`),
with `***`. Values are kept only in memory, never written anywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from nba_platform.lib.alerts import MIN_SECRET_LENGTH, _secret_variants, scrub

_known: set[str] = set()
_lock = threading.Lock()


def remember_secret(value: object) -> None:
    if value is None:
        return
    text = str(value)
    if len(text) >= MIN_SECRET_LENGTH:
        with _lock:
            _known.add(text)


def known_secrets() -> frozenset[str]:
    with _lock:
        return frozenset(_known)


def redact(text: object, extra: Iterable[str | None] = ()) -> str:
    """`text` without any known secret value (nor `extra` ones) or secret-looking pattern."""
    return scrub(text, [*known_secrets(), *extra])


def _chain_text(exc: BaseException) -> str:
    """Everything an error report may show of `exc`: its message and args along the cause chain."""
    parts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


class SecretScrubbedError(RuntimeError):
    """Raised in place of an error whose text held a secret value: same type name and message,
    the value replaced by ***, and no link to the original (it is dropped from the chain)."""


class exceptions_scrubbed:
    """`with exceptions_scrubbed(password): ...`: an error raised inside whose text (or cause
    chain) holds a secret value is re-raised as SecretScrubbedError with that value replaced;
    any other error passes through unchanged, so callers still catch the original types."""

    def __init__(self, *secrets: str | None):
        self.secrets = [s for s in secrets if s]

    def __enter__(self) -> exceptions_scrubbed:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        secrets = [*self.secrets, *known_secrets()]
        text = _chain_text(exc)
        if not any(v in text for secret in secrets for v in _secret_variants(secret)):
            return False
        message = f"{type(exc).__name__}: {redact(exc, secrets)}"
        raise SecretScrubbedError(message) from None
