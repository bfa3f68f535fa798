"""Corrections: a data engineer's fix for a wrong value in the sources, keyed by natural key.

A correction names an entity row by its natural key (not by file and row, so it survives a
re-export or re-landing of the source), a canonical field, the right value, why, who and when.
It is applied to every source's normalised rows with that key, after normalisation and before
the row rules: a corrected row can pass the rules, and a correction that makes a row invalid
still quarantines it with the failing rule. Nothing is added or dropped, so the validated
tables' `nothing_lost` invariant is untouched.

Corrections live in the landing zone as files of the `corrections` shape (CSV or JSON, columns
below; `nba-platform correct` appends to `corrections/corrections.csv`). Several corrections of
the same field apply in `recorded_at` order, so the latest wins and the audit shows each step.
Reasons and corrected text values are PII-masked like landed text; the author is kept as given.
"""

from __future__ import annotations

import ast
import csv
import functools
import hashlib
import io
import json
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from importlib import resources

import pandas as pd

from nba_platform.lib.csv_safety import neutralise_cell
from nba_platform.lib.landing import CORRECTIONS, LandingError, detect_shape, read_landed_bytes
from nba_platform.lib.normalise import PARSE_ERRORS, parse_dates, parse_minutes
from nba_platform.lib.pii import mask_text
from nba_platform.lib.schema import PLAYER_GAME_SCHEMA, PLAYER_SEASON_SCHEMA, TEAM_GAME_SCHEMA
from nba_platform.lib.seasons import SEASON_RE, normalise_game_id, season_from_game_id

FILE_COLUMNS = ["entity", "key", "field", "value", "reason", "author", "recorded_at"]
CLI_FILE = "corrections/corrections.csv"  # where `nba-platform correct` appends
MAX_ERRORS_SHOWN = 10


class CorrectionError(LandingError):
    """An invalid correction or corrections file; the message names the file, row and problem."""


@dataclass(frozen=True)
class EntitySpec:
    key: tuple[str, ...]  # required key columns
    optional_key: tuple[str, ...]  # key columns that narrow the match when given
    row_key: tuple[str, ...]  # the full natural key of one row (audit)
    schema: dict[str, str]
    derived: frozenset[str] = frozenset()  # follow other fields; correct those instead


ENTITIES: dict[str, EntitySpec] = {
    "team_game": EntitySpec(
        ("game_id", "team_id"), (), ("game_id", "team_id"), TEAM_GAME_SCHEMA, frozenset({"opponent_id", "opp_pts"})
    ),
    "player_game": EntitySpec(
        ("game_id", "player_id"), (), ("game_id", "player_id"), PLAYER_GAME_SCHEMA, frozenset({"did_play"})
    ),
    # A player correction without season/team applies to every season row of the player (a birth date).
    "player": EntitySpec(
        ("player_id",), ("season", "team_id"), ("player_id", "season", "team_id"), PLAYER_SEASON_SCHEMA
    ),
}
# Identity and lineage: never corrected (season and season type follow the game id).
NOT_CORRECTABLE = frozenset(
    {"game_id", "team_id", "player_id", "season", "season_type", "source", "source_file", "source_row"}
)

# Landed columns a canonical field is parsed from (default: the field upper-cased); a corrected
# field's unparseable-value flag is cleared, so a correction can rescue such a row.
SOURCE_COLUMNS = {
    "game_date": ("GAME_DATE", "GAME_DATE_EST"),
    "minutes": ("MIN",),
    "game_minutes": ("MIN",),
    "tov": ("TOV", "TO"),
    "weight_lbs": ("WEIGHT",),
    "height_inches": ("HEIGHT_INCHES", "HEIGHT"),
    "experience_years": ("EXPERIENCE",),
}

AUDIT_SCHEMA: dict[str, str] = {
    "entity": "string[pyarrow]",
    "season": "string[pyarrow]",
    "key": "string[pyarrow]",  # the correction's key
    "row_key": "string[pyarrow]",  # the full natural key of the row changed
    "field": "string[pyarrow]",
    "old_value": "string[pyarrow]",
    "new_value": "string[pyarrow]",
    "reason": "string[pyarrow]",
    "author": "string[pyarrow]",
    "recorded_at": "string[pyarrow]",
    "correction_file": "string[pyarrow]",
    "correction_row": "int64",
    "source": "string[pyarrow]",
    "source_file": "string[pyarrow]",
    "source_row": "int64",
    "outcome": "string[pyarrow]",  # accepted | quarantined: <rule>
}


def correctable_fields(entity: str) -> list[str]:
    spec = ENTITIES[entity]
    return [c for c in spec.schema if c not in NOT_CORRECTABLE and c not in spec.derived]


@dataclass(frozen=True)
class Correction:
    entity: str
    key: tuple[tuple[str, object], ...]  # (column, canonical value), in the entity's key order
    field: str
    value: object  # canonical value (int, float, bool, Timestamp, str) or None for null
    reason: str
    author: str
    recorded_at: str  # ISO 8601, UTC
    file: str
    row: int

    @property
    def key_text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.key)

    @property
    def value_text(self) -> str:
        return format_value(self.value)

    @property
    def season(self) -> str | None:
        """The season partition the corrected row lives in; None = every season (a player's bio)."""

        key = dict(self.key)
        if "game_id" in key:
            return str(season_from_game_id(pd.Series([key["game_id"]], dtype="string[pyarrow]")).iloc[0])
        return key.get("season")

    @property
    def ident(self) -> tuple[str, int]:
        return (self.file, self.row)

    def order(self) -> tuple:
        return (self.recorded_at, self.file, self.row)

    def describe(self) -> dict:
        return {
            "entity": self.entity,
            "key": self.key_text,
            "field": self.field,
            "value": self.value_text,
            "season": self.season or "any",
            "file": self.file,
            "row": self.row,
        }


def format_value(value) -> str:
    """Canonical text of a value for the audit and the corrections file ('' = null)."""

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


# ---------------------------------------------------------------- parsing


def parse_key(text: str, entity: str) -> tuple[tuple[str, object], ...]:
    """'game_id=0022200001,team_id=1610612747' (or a JSON object) -> canonical (column, value) pairs."""

    spec = ENTITIES[entity]
    text = (text or "").strip()
    if text.startswith("{"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError:
            try:  # a JSON object read back by the landing reader comes as its Python repr
                raw = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise ValueError(f"key {text!r} is neither 'col=value,...' nor a JSON object") from None
        if not isinstance(raw, dict):
            raise ValueError(f"key {text!r} is not an object")
        pairs = {str(k).strip().lower(): str(v).strip() for k, v in raw.items()}
    else:
        pairs = {}
        for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"key part {part!r} is not column=value")
            pairs[name.strip().lower()] = value.strip()
    allowed = (*spec.key, *spec.optional_key)
    missing = [k for k in spec.key if not pairs.get(k)]
    unknown = sorted(set(pairs) - set(allowed))
    if missing or unknown:
        raise ValueError(
            f"a {entity} key needs {'+'.join(spec.key)}"
            + (f" (optional: {'+'.join(spec.optional_key)})" if spec.optional_key else "")
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    out = []
    for name in allowed:
        if name not in pairs or pairs[name] == "":
            continue
        value = pairs[name]
        if name == "game_id":
            gid = normalise_game_id(pd.Series([value], dtype="string[pyarrow]")).iloc[0]
            if pd.isna(gid):
                raise ValueError(f"game_id {value!r} is not a game id ('00TYYNNNNN')")
            out.append((name, str(gid)))
        elif name == "season":
            if not SEASON_RE.match(value):
                raise ValueError(f"season {value!r} is not 'YYYY-YY'")
            out.append((name, value))
        else:
            if not value.isdigit() or int(value) <= 0:
                raise ValueError(f"{name} {value!r} is not a positive integer id")
            out.append((name, int(value)))
    return tuple(out)


# Abbreviations stats.nba.com used for franchises since 1996 that the current reference no longer lists.
FORMER_ABBREVIATIONS = frozenset({"NJN", "SEA", "NOH", "NOK", "CHH", "VAN", "WSB"})


@functools.cache
def team_abbreviations() -> frozenset[str]:
    """The team reference (the 30 franchises, shipped data/reference/teams.csv) plus former abbreviations."""
    import pandas as pd

    path = resources.files("nba_platform") / "data" / "reference" / "teams.csv"
    with path.open("rb") as f:
        teams = pd.read_csv(f, dtype=str, usecols=["ABBREVIATION"])
    return frozenset(teams["ABBREVIATION"].str.strip()) | FORMER_ABBREVIATIONS


def parse_value(text: str, entity: str, field: str):
    """Value text -> the field's canonical type; '' means null."""

    dtype = ENTITIES[entity].schema[field]
    text = "" if text is None else str(text).strip()
    if text == "":
        return None
    if field == "team_abbreviation":
        # Only a real team's abbreviation: the value reaches tables and every CSV written from them.
        text = text.upper()
        if text not in team_abbreviations():
            raise ValueError(
                f"team_abbreviation {text[:20]!r} is not a team in the reference (data/reference/teams.csv, "
                "plus former franchise abbreviations)"
            )
        return text
    if dtype == "Int64":
        number = pd.to_numeric(text, errors="coerce")
        if pd.isna(number) or float(number) != round(float(number)):
            raise ValueError(f"{field} needs a whole number, got {text!r}")
        return int(round(float(number)))
    if field == "minutes":  # as box scores write them: '41:05', 'PT41M05.00S' or 41.08
        number = parse_minutes(pd.Series([text], dtype="string[pyarrow]")).iloc[0]
        if pd.isna(number):
            raise ValueError(f"minutes needs mm:ss or a number, got {text!r}")
        return float(number)
    if dtype == "Float64":
        number = pd.to_numeric(text, errors="coerce")
        if pd.isna(number):
            raise ValueError(f"{field} needs a number, got {text!r}")
        return float(number)
    if dtype.startswith("datetime"):
        date = parse_dates(pd.Series([text], dtype="string[pyarrow]")).iloc[0]
        if pd.isna(date):
            raise ValueError(f"{field} needs a date (e.g. 2022-10-18), got {text!r}")
        return pd.Timestamp(date)
    if dtype == "boolean":
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"{field} needs true or false, got {text!r}")
    return mask_text(text).text


def parse_recorded_at(text: str) -> str:
    try:
        ts = pd.Timestamp(str(text).strip())
    except (ValueError, TypeError):
        ts = pd.NaT
    if pd.isna(ts):
        raise ValueError(f"recorded_at {text!r} is not an ISO 8601 timestamp")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat(timespec="seconds")


def make_correction(
    entity: str, key: str, field: str, value: str, reason: str, author: str, recorded_at: str, file: str, row: int
) -> Correction:
    """One validated correction; raises ValueError naming the problem."""
    entity = (entity or "").strip().lower()
    if entity not in ENTITIES:
        raise ValueError(f"entity {entity!r} is not one of {sorted(ENTITIES)}")
    field = (field or "").strip().lower()
    fields = correctable_fields(entity)
    if field not in fields:
        hint = " (it follows other fields: correct those)" if field in ENTITIES[entity].derived else ""
        raise ValueError(f"field {field!r} cannot be corrected for {entity}{hint}; correctable: {', '.join(fields)}")
    reason, author = (reason or "").strip(), (author or "").strip()
    if not reason:
        raise ValueError("reason is empty: say why the source is wrong")
    if not author:
        raise ValueError("author is empty: say who records the correction")
    return Correction(
        entity=entity,
        key=parse_key(key, entity),
        field=field,
        value=parse_value(value, entity, field),
        reason=mask_text(reason).text,
        author=author,
        recorded_at=parse_recorded_at(recorded_at),
        file=file,
        row=int(row),
    )


def parse_corrections(frame: pd.DataFrame, file_name: str) -> list[Correction]:
    """Rows of a landed corrections file (upper-cased columns, `_source_row` lineage) -> corrections.
    Any invalid row makes the whole file invalid: corrections are never half-applied."""
    missing = [c for c in FILE_COLUMNS if c.upper() not in frame.columns]
    if missing:
        raise CorrectionError(f"{file_name}: a corrections file needs columns {FILE_COLUMNS}; missing {missing}")
    out, errors = [], []
    for rec in frame.to_dict(orient="records"):
        row = int(rec["_source_row"])
        try:
            out.append(make_correction(*(rec[c.upper()] for c in FILE_COLUMNS), file=file_name, row=row))
        except ValueError as exc:
            errors.append(f"row {row}: {exc}")
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN]) + (
            f"; ... {len(errors) - MAX_ERRORS_SHOWN} more" if len(errors) > MAX_ERRORS_SHOWN else ""
        )
        raise CorrectionError(f"{file_name}: {len(errors)} invalid correction(s) (rule: correction_valid): {shown}")
    return out


def read_corrections(data: bytes, file_name: str) -> list[Correction]:
    """A landed corrections file (CSV/JSON/...) -> corrections (raises CorrectionError/LandingError)."""
    frame = read_landed_bytes(data, file_name)
    if detect_shape(frame.columns, file_name) is not CORRECTIONS:
        raise CorrectionError(f"{file_name}: not a corrections file (columns {FILE_COLUMNS} expected)")
    return parse_corrections(frame, file_name)


def append_correction(
    existing: bytes | None,
    file_name: str,
    entity: str,
    key: str,
    field: str,
    value: str,
    reason: str,
    author: str,
    recorded_at: str,
) -> tuple[bytes, Correction]:
    """The corrections CSV with one more row (validated first; an invalid existing file is refused)."""
    before = read_corrections(existing, file_name) if existing else []
    correction = make_correction(entity, key, field, value, reason, author, recorded_at, file_name, len(before) + 1)
    # A hand-edited file may order (or add) columns differently: write by its header.
    header = next(csv.reader(io.StringIO(existing.decode("utf-8-sig")))) if existing else FILE_COLUMNS
    # The row as recorded (canonical key, value as typed), so the file reads back identically.
    values = dict(
        zip(
            FILE_COLUMNS,
            [
                correction.entity,
                correction.key_text,
                correction.field,
                str(value).strip(),
                reason.strip(),
                author.strip(),
                correction.recorded_at,
            ],
        )
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if not existing:
        writer.writerow(FILE_COLUMNS)
    writer.writerow([neutralise_cell(values.get(h.strip().lower(), "")) for h in header])
    head = existing or b""
    if head and not head.endswith(b"\n"):
        head += b"\n"
    data = head + buf.getvalue().encode("utf-8")
    after = read_corrections(data, file_name)  # what every reader will see
    return data, after[-1]


# ---------------------------------------------------------------- applying


@dataclass
class Applied:
    frame: pd.DataFrame
    audit: pd.DataFrame  # AUDIT_SCHEMA, `outcome` filled by mark_outcomes
    considered: list[Correction] = dataclass_field(default_factory=list)  # in scope for this season
    matched: set = dataclass_field(default_factory=set)  # idents of corrections that changed a row


def empty_audit() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in AUDIT_SCHEMA.items()})


def in_scope(corrections, entity: str, season: str) -> list[Correction]:
    chosen = [c for c in corrections if c.entity == entity and (c.season is None or c.season == season)]
    return sorted(chosen, key=Correction.order)


def _key_mask(frame: pd.DataFrame, key) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for col, value in key:
        if col not in frame:
            return pd.Series(False, index=frame.index)
        mask &= (frame[col] == value).fillna(False).astype(bool)
    return mask


def _row_keys(rows: pd.DataFrame, columns) -> list[str]:
    return [
        ",".join(f"{c}={format_value(v)}" for c, v in zip(columns, values))
        for values in rows[list(columns)].itertuples(index=False, name=None)
    ]


def _clear_parse_errors(frame: pd.DataFrame, mask: pd.Series, columns: set[str]) -> None:
    if PARSE_ERRORS not in frame or not mask.any():
        return

    def keep(errors):
        if errors is None or pd.isna(errors):
            return errors
        return "".join(f"{t};" for t in str(errors).split(";") if t and t not in columns)

    frame.loc[mask, PARSE_ERRORS] = frame.loc[mask, PARSE_ERRORS].map(keep)


def _side_suffixed(frame: pd.DataFrame, mask: pd.Series, bases, own_side: bool) -> dict:
    """Kaggle rows are parsed from PTS_HOME/PTS_AWAY: the tokens of a row's own (or other) side."""
    if "is_home" not in frame:
        return {}
    home = frame.loc[mask, "is_home"].fillna(False).astype(bool)
    out = {}
    for idx, is_home in home.items():
        side = "HOME" if is_home == own_side else "AWAY"
        out[idx] = {f"{b}_{side}" for b in bases}
    return out


def _set(frame: pd.DataFrame, mask: pd.Series, column: str, value, dtype: str) -> pd.Series:
    """Sets `column` on the masked rows; returns the old values."""

    series = frame[column].astype(dtype) if column in frame else pd.Series(pd.NA, index=frame.index).astype(dtype)
    old = series[mask].copy()
    series[mask] = pd.NA if value is None else value
    frame[column] = series
    return old


def _audit_rows(
    c: Correction, season: str, rows: pd.DataFrame, field: str, old: pd.Series, new, reason: str, spec: EntitySpec
) -> pd.DataFrame:
    n = len(rows)
    return pd.DataFrame(
        {
            "entity": [c.entity] * n,
            "season": [season] * n,
            "key": [c.key_text] * n,
            "row_key": _row_keys(rows, spec.row_key),
            "field": [field] * n,
            "old_value": [format_value(v) for v in old],
            "new_value": [format_value(new)] * n,
            "reason": [reason] * n,
            "author": [c.author] * n,
            "recorded_at": [c.recorded_at] * n,
            "correction_file": [c.file] * n,
            "correction_row": [c.row] * n,
            "source": rows["source"].astype(str).tolist() if "source" in rows else [""] * n,
            "source_file": rows["source_file"].astype(str).tolist(),
            "source_row": rows["source_row"].astype("int64").tolist(),
            "outcome": [""] * n,
        }
    )


def apply_corrections(frame: pd.DataFrame, entity: str, corrections, season: str) -> Applied:
    """Normalised rows of one season -> the same rows with the in-scope corrections applied,
    plus one audit row per changed row and field."""

    spec = ENTITIES[entity]
    scope = in_scope(corrections, entity, season)
    if not scope:
        return Applied(frame, empty_audit())
    frame = frame.copy()
    audits, matched = [], set()
    for c in scope:
        mask = _key_mask(frame, c.key)
        if not mask.any():
            continue
        matched.add(c.ident)
        dtype = spec.schema[c.field]
        old = _set(frame, mask, c.field, c.value, dtype)
        audits.append(_audit_rows(c, season, frame[mask], c.field, old, c.value, c.reason, spec))
        bases = set(SOURCE_COLUMNS.get(c.field, (c.field.upper(),)))
        _clear_parse_errors(frame, mask, bases)
        for idx, tokens in _side_suffixed(frame, mask, bases, own_side=True).items():
            _clear_parse_errors(frame, frame.index == idx, tokens)
        if entity == "team_game" and c.field == "pts":
            # The opponent's opp_pts is this team's points (same game, any source).
            key = dict(c.key)
            opp = (frame["game_id"] == key["game_id"]).fillna(False) & (frame["opponent_id"] == key["team_id"]).fillna(
                False
            )
            opp = opp.astype(bool)
            if opp.any():
                old_opp = _set(frame, opp, "opp_pts", c.value, "Int64")
                audits.append(
                    _audit_rows(
                        c,
                        season,
                        frame[opp],
                        "opp_pts",
                        old_opp,
                        c.value,
                        f"follows the pts correction of {c.key_text}: {c.reason}",
                        spec,
                    )
                )
                for idx, tokens in _side_suffixed(frame, opp, {"PTS"}, own_side=False).items():
                    _clear_parse_errors(frame, frame.index == idx, tokens)
        if entity == "player_game" and c.field == "minutes":
            # did_play follows minutes (as in normalisation); every matched row has the same minutes.
            played = c.value is not None
            old_played = _set(frame, mask, "did_play", played, "boolean")
            changed = (old_played != played).fillna(True).astype(bool)
            if changed.any():
                audits.append(
                    _audit_rows(
                        c,
                        season,
                        frame[mask][changed.to_numpy()],
                        "did_play",
                        old_played[changed],
                        played,
                        f"follows the minutes correction: {c.reason}",
                        spec,
                    )
                )
    audit = pd.concat(audits, ignore_index=True) if audits else empty_audit()
    return Applied(frame, _conform(audit), scope, matched)


def _conform(audit: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: audit[c].astype(t) for c, t in AUDIT_SCHEMA.items()}).reset_index(drop=True)


def mark_outcomes(audit: pd.DataFrame, entity: str, accepted: pd.DataFrame, quarantined: pd.DataFrame) -> pd.DataFrame:
    """Fill `outcome`: whether each corrected row ended up accepted or quarantined (and by which rule)."""

    if audit.empty:
        return audit
    spec = ENTITIES[entity]
    lineage = set(zip(audit["source_file"], audit["source_row"].astype(int)))
    ok = set()
    if len(accepted):
        rows = accepted[[(f, int(r)) in lineage for f, r in zip(accepted["source_file"], accepted["source_row"])]]
        ok = set(zip(rows["source_file"], rows["source_row"].astype(int), _row_keys(rows, spec.row_key)))
    rules = {}
    if len(quarantined):
        q = quarantined[[(f, int(r)) in lineage for f, r in zip(quarantined["source_file"], quarantined["source_row"])]]
        for f, r, record, rule in zip(q["source_file"], q["source_row"], q["record"], q["rule"]):
            rec = json.loads(record)
            row_key = ",".join(f"{c}={'' if rec.get(c) is None else rec.get(c)}" for c in spec.row_key)
            rules[(f, int(r), row_key)] = rule
    outcome = []
    for f, r, row_key in zip(audit["source_file"], audit["source_row"].astype(int), audit["row_key"]):
        k = (f, r, row_key)
        outcome.append("accepted" if k in ok else f"quarantined: {rules[k]}" if k in rules else "")
    return audit.assign(outcome=pd.Series(outcome, index=audit.index, dtype="string[pyarrow]"))


def unmatched(results) -> list[Correction]:
    """Corrections in scope of at least one season of the run that changed no row in any of them."""
    considered, matched = {}, set()
    for r in results:
        for c in r.considered:
            considered[c.ident] = c
        matched |= r.matched
    return sorted((c for i, c in considered.items() if i not in matched), key=Correction.order)


# ---------------------------------------------------------------- sensor support


def correction_tokens(corrections) -> set[str]:
    """'<season or *>:<digest>' per correction: what the landing sensor remembers, so an edit to a
    corrections file re-runs only the seasons whose corrections were added, changed or removed."""
    tokens = set()
    for c in corrections:
        content = "|".join([c.entity, c.key_text, c.field, c.value_text, c.reason, c.author, c.recorded_at])
        tokens.add(f"{c.season or '*'}:{hashlib.sha256(content.encode()).hexdigest()[:12]}")
    return tokens


def seasons_of_tokens(tokens, existing) -> set[str]:
    """Existing season partitions the tokens touch ('*' = every one); never a new partition."""
    existing = set(existing)
    seasons = {t.split(":", 1)[0] for t in tokens}
    return existing if "*" in seasons else seasons & existing
