"""Bearer tokens of the forecast API and MCP server: HS256 JWTs (PyJWT) with scopes.

The signing key is handed in by the caller (it comes from the secrets resource); it is never
logged, and errors say what is wrong with a token without echoing it.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
SCOPES = ("read:forecasts", "read:metrics")
MIN_KEY_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as the hash
_TTL = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TokenError(Exception):
    """A token that cannot be accepted (the API answers 401). The message is safe to return."""


class ScopeError(Exception):
    """A valid token without the scope an endpoint needs (the API answers 403)."""


@dataclass(frozen=True)
class TokenClaims:
    client: str
    scopes: frozenset[str]
    expires_at: int
    token_id: str


def parse_ttl(text: str) -> int:
    """'30d', '12h', '15m', '90s' -> seconds."""
    match = _TTL.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"ttl must be a positive number with a unit s/m/h/d (e.g. 30d, 12h), got {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def check_key(key: str) -> bytes:
    raw = key.encode()
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(f"the API signing key must be at least {MIN_KEY_BYTES} bytes (got {len(raw)})")
    return raw


def issue_token(
    key: str, client: str, scopes: list[str], ttl_seconds: int, issuer: str, audience: str, now: float | None = None
) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", client or ""):
        raise ValueError(f"client must be 1-64 characters of letters, digits, _ . @ -, got {client!r}")
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}")
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": client,
        "scope": " ".join(sorted(set(scopes))),
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, check_key(key), algorithm=ALGORITHM)


def verify_token(key: str, token: str, issuer: str, audience: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            check_key(key),
            algorithms=[ALGORITHM],  # never "none" or an algorithm the token picks
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "scope"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("token signature is invalid (tampered or signed with another key)") from None
    except jwt.InvalidAudienceError:
        raise TokenError(f"token is not for this API (audience must be {audience})") from None
    except jwt.InvalidIssuerError:
        raise TokenError(f"token was not issued by {issuer}") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("token is not valid yet") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"token lacks the {exc.claim!r} claim") from None
    except jwt.DecodeError:
        raise TokenError("token is malformed (not a signed JWT)") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"token is invalid ({type(exc).__name__})") from None
    return TokenClaims(
        client=str(claims["sub"]),
        scopes=frozenset(str(claims["scope"]).split()),
        expires_at=int(claims["exp"]),
        token_id=str(claims.get("jti", "")),
    )


def require_scope(claims: TokenClaims, scope: str) -> None:
    if scope not in claims.scopes:
        have = ", ".join(sorted(claims.scopes)) or "none"
        raise ScopeError(f"token of client {claims.client!r} lacks scope {scope!r} (it has: {have})")


class VerifiedTokens:
    """`verify_token` with the last `max_entries` accepted tokens remembered (a client sends the
    same token on every request; a signature check costs more than the rest of a cached answer).
    A remembered token is still refused once expired; refused tokens are never remembered."""

    def __init__(self, key: str, issuer: str, audience: str, max_entries: int = 1024):
        self.key, self.issuer, self.audience = key, issuer, audience
        self.max_entries = max_entries
        self._accepted: dict[str, TokenClaims] = {}

    def verify(self, token: str) -> TokenClaims:
        claims = self._accepted.get(token)
        if claims is not None:
            if claims.expires_at > time.time():
                return claims
            self._accepted.pop(token, None)
            raise TokenError("token expired")
        claims = verify_token(self.key, token, self.issuer, self.audience)
        if len(self._accepted) >= self.max_entries:
            self._accepted.pop(next(iter(self._accepted)), None)  # the oldest remembered
        self._accepted[token] = claims
        return claims
