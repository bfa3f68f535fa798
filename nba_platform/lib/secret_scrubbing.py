"""Keeping secret values out of text that leaves the process: logs, alerts, errors, reports.

`scrub(text, secrets)` replaces the given secret values (and their URL-quoted forms) and
secret-looking patterns (URL credentials, `password=...`, Slack webhook paths, AWS access key
ids, Slack tokens, bearer tokens) with `***`. The secrets resource remembers every value it hands
out (`remember_secret`); `redact` scrubs those too, and `exceptions_scrubbed` re-raises an error
whose text holds one. Values are kept only in memory, never written anywhere. Pure Python.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

REDACTED = "***"
# Known secret values shorter than this are not scrubbed by value (they would mangle ordinary
# words); the patterns below still apply.
MIN_SECRET_LENGTH = 4

_PATTERNS: list[tuple[re.Pattern, str]] = [
    # scheme://user:password@host -> scheme://***:***@host
    (re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)[^\s/:@]+:[^\s/@]+@"), r"\g<scheme>***:***@"),
    # password=..., token: ..., api_key=..., secret=...
    (
        re.compile(
            r"(?i)\b(?P<k>[\w.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key)[\w.\-]*)"
            r"(?P<sep>\s*[=:]\s*)(?P<q>['\"]?)[^\s'\",;]+"
        ),
        r"\g<k>\g<sep>\g<q>***",
    ),
    (re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[^\s'\"<>]+"), "hooks.slack.com/***"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]+"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]+=*"), "Bearer ***"),
]


def secret_variants(secret: str) -> list[str]:
    """A secret, plus the forms it may take inside other text (URL-quoted; a URL's path/query)."""
    out = {secret, quote(secret, safe=""), quote(secret)}
    if "://" in secret:
        parts = urlsplit(secret)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(tail.strip("/")) >= 8:  # the token part of a webhook URL, quoted on its own
            out.add(tail)
            out.add(tail.strip("/"))
    return [v for v in out if len(v) >= MIN_SECRET_LENGTH]


def scrub(text: object, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every known secret value and every secret-looking pattern replaced by ***."""
    out = "" if text is None else str(text)
    variants = sorted({v for s in secrets if s for v in secret_variants(str(s))}, key=len, reverse=True)
    for value in variants:
        out = out.replace(value, REDACTED)
    for pattern, repl in _PATTERNS:
        out = pattern.sub(repl, out)
    return out


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
        if not any(v in text for secret in secrets for v in secret_variants(secret)):
            return False
        message = f"{type(exc).__name__}: {redact(exc, secrets)}"
        raise SecretScrubbedError(message) from None
