"""PII masking: each kind is found and masked, ordinary NBA values (and every comment string in the
shipped data) are left alone, and frames are masked cell by cell with counts."""

from pathlib import Path

import pandas as pd
import pytest

from nba_platform.lib.landing import LINEAGE, read_landed_bytes
from nba_platform.lib.pii import KINDS, counts_by_kind, luhn_valid, mask_frame, mask_text
from nba_platform.resources.landing import sample_root

SAMPLE = Path(sample_root())


@pytest.mark.parametrize(
    "text, masked, kind",
    [
        ("contact john.doe+nba@example.co.uk today", "contact [EMAIL] today", "email"),
        ("agent: A_Smith@agency-mail.com.", "agent: [EMAIL].", "email"),
        ("logged from 192.168.10.254", "logged from [IPV4]", "ipv4"),
        ("host 8.8.8.8, port 53", "host [IPV4], port 53", "ipv4"),
        ("client 2001:db8:85a3::8a2e:370:7334 seen", "client [IPV6] seen", "ipv6"),
        ("loopback ::1 and fe80::1ff:fe23:4567:890a.", "loopback [IPV6] and [IPV6].", "ipv6"),
        ("mapped ::ffff:10.0.0.1", "mapped [IPV6]", "ipv6"),
        ("visa 4111 1111 1111 1111 exp 09/27", "visa [CARD] exp 09/27", "card"),
        ("mc 5500-0000-0000-0004", "mc [CARD]", "card"),
        ("amex 3782 822463 10005", "amex [CARD]", "card"),
        ("discover 6011111111111117", "discover [CARD]", "card"),
        ("ssn 123-45-6789 on file", "ssn [SSN] on file", "ssn"),
        ("call (212) 555-0199", "call [PHONE]", "phone"),
        ("call 212-555-0199 or 212.555.0199", "call [PHONE] or [PHONE]", "phone"),
        ("cell +1 415 555 2671", "cell [PHONE]", "phone"),
        ("london +44 20 7946 0958", "london [PHONE]", "phone"),
        ("paris +33 1 23 45 67 89", "paris [PHONE]", "phone"),
    ],
)
def test_each_kind_is_masked_with_its_token(text, masked, kind):
    out, counts = mask_text(text)
    assert out == masked
    assert set(counts) == {kind} and sum(counts.values()) == masked.count("[")


def test_several_kinds_in_one_comment_are_each_counted():
    out, counts = mask_text("DNP - Personal (agent bob@x.io, 310-555-0143, card 4111111111111111, ip 10.1.2.3)")
    assert out == "DNP - Personal (agent [EMAIL], [PHONE], card [CARD], ip [IPV4])"
    assert counts == {"email": 1, "phone": 1, "card": 1, "ipv4": 1}
    assert counts_by_kind(counts) == {"email": 1, "ipv6": 0, "ipv4": 1, "card": 1, "ssn": 0, "phone": 1}
    assert list(counts_by_kind(counts)) == list(KINDS)


def test_luhn():
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112") and not luhn_valid("1234567890123") and not luhn_valid("4111-1111")


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn fails: an ordinary number
        "1234567890123456",  # 16 digits, Luhn fails
        "0.34299999999999997",  # Kaggle float noise: the 17 fraction digits are not a card
        "1610612747 1610612738",  # two team ids
        "000-12-3456",  # SSN area 000 does not exist
        "666-12-3456",
        "123-00-4567",
        "12:30:45",  # clock time, not IPv6
        "00:1A:2B:3C:4D:5E",  # MAC address, not IPv6
        "::",
        "1.2.3.4.5",  # dotted version number with five parts
        "256.1.1.1",
        "+12 in 31:04",  # plus-minus and minutes
        "5551234567",  # a phone without separators looks like an id: deliberately not matched
    ],
)
def test_near_misses_are_not_masked(text):
    assert mask_text(text) == (text, {})


@pytest.mark.parametrize(
    "text",
    [
        "DNP - Coach's Decision",
        "DNP - Coach's Decision      ",
        "DND - Injury/Illness",
        "NWT - Not With Team",
        "NWT_HEALTH_AND_SAFETY_PROTOCOLS",
        "DNP - Rest",
        "41:05",
        "15:60",
        "PT41M05.00S",
        "0022200001",
        "22200001",
        "1610612747",
        "1628389",
        "2022-10-18",
        "2022-10-18T00:00:00",
        "APR 10, 2019",
        "LAL @ BOS",
        "BOS vs. PHI",
        "112-108",
        "6-10",
        "-12.0",
        "0.476",
        "St. Joseph's (PA)",
        "Dennis Schröder",
        "https://cdn.nba.com/headshots/nba/latest/1040x760/1628389.png",
        "2022-23",
        "22022",
    ],
)
def test_ordinary_nba_values_are_not_masked(text):
    assert mask_text(text) == (text, {})


def test_every_comment_in_the_shipped_box_scores_is_left_alone():
    comments = set()
    for archive in sorted((SAMPLE / "nba_api_player_boxscores_2015_2021").glob("*.tar.gz")):
        raw = read_landed_bytes(archive.read_bytes(), archive.name)
        comments |= set(raw["COMMENT"].dropna())
    assert len(comments) > 20  # DNP/DND/NWT reasons, with and without trailing blanks
    masked = {c: mask_text(c).text for c in comments if mask_text(c).counts}
    assert masked == {}


def test_shipped_files_have_nothing_masked():
    """Every cell of every shipped file: a false positive would alter real data."""
    for path in sorted(SAMPLE.rglob("*")):
        if path.is_file():
            raw = read_landed_bytes(path.read_bytes(), path.name)
            out, by_kind, by_column = mask_frame(raw, skip=tuple(LINEAGE))
            assert not by_kind and not by_column, (path.name, dict(by_column))
            assert out is raw


def test_mask_frame_masks_any_text_column_and_leaves_lineage_and_numbers():
    raw = pd.DataFrame(
        {
            "COMMENT": ["DNP - Coach's Decision", "DND - Personal, call 212-555-0199", ""],
            "NICKNAME": ["Joel", "mail: joel@example.com", None],  # a column a source adds
            "PTS": ["31", "0", "4111111111111111"],  # a 16-digit Luhn-valid value is still a card
            "MIN": ["41:05", "", "12:01"],
            "_source_file": ["a@b.com.csv"] * 3,
        },
        dtype="string[pyarrow]",
    )
    raw["_source_row"] = pd.Series([1, 2, 3], dtype="int64")
    before = raw.copy()
    out, by_kind, by_column = mask_frame(raw, skip=tuple(LINEAGE))
    assert out["COMMENT"].tolist() == ["DNP - Coach's Decision", "DND - Personal, call [PHONE]", ""]
    assert out["NICKNAME"].tolist()[:2] == ["Joel", "mail: [EMAIL]"] and pd.isna(out["NICKNAME"].iloc[2])
    assert out["PTS"].tolist() == ["31", "0", "[CARD]"]
    assert out["MIN"].equals(raw["MIN"]) and out["_source_file"].equals(raw["_source_file"])
    assert str(out["COMMENT"].dtype) == "string" and out["_source_row"].tolist() == [1, 2, 3]
    assert by_kind == {"phone": 1, "email": 1, "card": 1}
    assert by_column == {"COMMENT": 1, "NICKNAME": 1, "PTS": 1}
    pd.testing.assert_frame_equal(raw, before)  # input untouched
