"""Masking personal data in landed text before it is stored.

Kinds, in the order they are masked (an earlier kind's token can never match a later kind):
  email  -> [EMAIL]   name@domain.tld
  ipv6   -> [IPV6]    anything `ipaddress` accepts as IPv6 ('12:30:45' and MAC addresses do not)
  ipv4   -> [IPV4]    four dotted octets 0..255, not part of a longer dotted number
  card   -> [CARD]    13-19 digits, contiguous or in 4-4-4-4(-3) / 4-6-5 groups, Luhn-valid only
  ssn    -> [SSN]     US SSN written ddd-dd-dddd (area not 000/666/9xx, group not 00, serial not 0000)
  phone  -> [PHONE]   North American ((555) 123-4567, 555-123-4567, +1 555.123.4567) or '+' and
                      8-15 digits (E.164, e.g. +44 20 7946 0958)
Deliberately not matched (ids and counts look like them): digit runs without separators
shorter than 13 (game ids '0022200001', team ids, a 9-digit SSN or 10-digit phone written
without separators), minutes '41:05', dates, scores '112-108', heights '6-10'.

Which columns: every landed column except lineage. Free text is not confined to known columns
(the box-score COMMENT, the 2020-21 box scores' extra NICKNAME, bio names and schools, or any
column a source adds), so no column is trusted to be free of it. Plain numbers (at most 12
integer digits) are skipped: no kind fits in one. Cells are pre-filtered with one vectorised
regex, so only the few that could hold a match reach the Python patterns.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from typing import NamedTuple

import numpy as np
import pandas as pd

KINDS = ("email", "ipv6", "ipv4", "card", "ssn", "phone")
TOKENS = {"email": "[EMAIL]", "ipv6": "[IPV6]", "ipv4": "[IPV4]", "card": "[CARD]", "ssn": "[SSN]", "phone": "[PHONE]"}

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f:.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?![\w:])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\d|\.\d)")
_CARD = re.compile(
    r"(?<![\d.])(?:\d{13,19}"
    r"|\d{4}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{1,4}(?:(?P=s)\d{1,3})?"
    r"|\d{4}(?P<a>[ -])\d{6}(?P=a)\d{4,5})(?!\d|\.\d)"
)
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_PHONE_NANP = re.compile(r"(?<![\w+])(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])\d{3}[ .-]\d{4}(?![\w-])")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?![\w-])")

# A superset of every pattern above in RE2 syntax (pyarrow evaluates it over whole columns).
_PREFILTER = (
    r"@|:[0-9A-Fa-f.]*:|\d\.\d{1,3}\.\d{1,3}\.\d|\d{13}|\d{4}[ -]\d{4}|\d{3}-\d{2}-\d{4}"
    r"|\d{3}[ .-]\d{3}[ .-]\d{4}|\(\d{3}\) ?\d{3}|\+\d"
)
_PLAIN_NUMBER = r"\s*[-+]?(?:\d{1,12}(?:\.\d*)?|\.\d+)\s*"


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies (and ~90% of random numbers fail)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_ipv6(candidate: str) -> bool:
    if not re.search(r"[0-9A-Fa-f]", candidate):
        return False  # '::' alone
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _mask_ipv6(match: re.Match, counts: Counter) -> str:
    text = match.group()
    core = text.rstrip(".")  # a sentence's full stop is not part of the address
    if _is_ipv6(core):
        counts["ipv6"] += 1
        return TOKENS["ipv6"] + text[len(core) :]
    return text


def _mask_card(match: re.Match, counts: Counter) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        counts["card"] += 1
        return TOKENS["card"]
    return match.group()


def _mask_intl_phone(match: re.Match, counts: Counter) -> str:
    if 8 <= sum(ch.isdigit() for ch in match.group()) <= 15:
        counts["phone"] += 1
        return TOKENS["phone"]
    return match.group()


def _plain(kind: str):
    def replace(match: re.Match, counts: Counter) -> str:
        counts[kind] += 1
        return TOKENS[kind]

    return replace


_STEPS = (
    (_EMAIL, _plain("email")),
    (_IPV6, _mask_ipv6),
    (_IPV4, _plain("ipv4")),
    (_CARD, _mask_card),
    (_SSN, _plain("ssn")),
    (_PHONE_NANP, _plain("phone")),
    (_PHONE_INTL, _mask_intl_phone),
)


class MaskedText(NamedTuple):
    text: str
    counts: Counter  # masked per kind


def mask_text(text: str) -> MaskedText:
    """`text` with every match replaced by its kind's token, and the number masked per kind."""
    counts: Counter = Counter()
    for pattern, replace in _STEPS:
        text = pattern.sub(lambda m, replace=replace: replace(m, counts), text)
    return MaskedText(text, counts)


def mask_frame(frame: pd.DataFrame, skip: tuple[str, ...] = ()) -> tuple[pd.DataFrame, Counter, Counter]:
    """Every text cell masked (columns in `skip`, e.g. lineage, untouched).
    Returns (frame, masked per kind, masked per column); the input frame is not modified."""

    by_kind: Counter = Counter()
    by_column: Counter = Counter()
    out = frame
    for col in frame.columns:
        if col in skip or not (pd.api.types.is_string_dtype(frame[col]) or frame[col].dtype == object):
            continue
        values = frame[col].astype("string[pyarrow]")
        candidate = values.str.contains(_PREFILTER, regex=True) & ~values.str.fullmatch(_PLAIN_NUMBER)
        positions = np.flatnonzero(candidate.fillna(False).to_numpy(dtype=bool))
        changed = {}
        for pos in positions:
            masked, counts = mask_text(values.iat[pos])
            if counts:
                changed[pos] = masked
                by_kind.update(counts)
                by_column[col] += sum(counts.values())
        if changed:
            if out is frame:
                out = frame.copy()
            column = values.to_numpy(dtype=object, na_value=None)
            column[list(changed)] = list(changed.values())
            out[col] = pd.Series(column, index=frame.index, dtype=frame[col].dtype)
    return out, by_kind, by_column


def counts_by_kind(counts: Counter) -> dict[str, int]:
    """Every kind, zeros included, in the documented order (for metadata)."""
    return {kind: int(counts.get(kind, 0)) for kind in KINDS}
