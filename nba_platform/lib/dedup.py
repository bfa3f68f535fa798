"""Deduplication on natural keys, across sources.

Conflict rules (documented in the README):
1. Exact duplicates within a source (same canonical values; floats compared at 3 decimals)
   collapse to the first row. Kaggle's 29 doubled games differ only in float noise
   (0.343 vs 0.34299999); the 22 doubled playoff rows differ only in league ranks.
2. Non-identical rows for one key within one landed file (an archive is one file): that file's
   rows for the key are quarantined ('source_internal_conflict'); other files and sources may
   still carry the game. Rows of one source that differ between files are judged like rows of
   different sources (rule 3): a result field in dispute quarantines the game ('source_conflict',
   reason naming the fields); other fields are taken from the first file by name, and the rows
   set aside are counted ('rows_differing_between_files').
3. Across sources, the most complete source wins field by field and gaps are filled from the
   next source (SOURCE_PRIORITY). Any disagreement on a *result* field (points, opponent,
   home/away, date) quarantines every row of that game: scores are never guessed.
4. After merging, every game needs exactly two team rows, one home; otherwise its rows are
   quarantined ('game_incomplete') - e.g. when one team's row failed validation.
5. The margin is recomputed from both teams' points (source PLUS_MINUS has float defects).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nba_platform.lib.quality import quarantine_frame
from nba_platform.lib.schema import (
    LINEAGE_COLUMNS,
    PLAYER_GAME_BOX,
    PLAYER_GAME_CONTEXT,
    PLAYER_GAME_KEY,
    PLAYER_GAME_SCHEMA,
    PLAYER_SCHEMA,
    PLAYER_SEASON_SCHEMA,
    TEAM_GAME_KEY,
    TEAM_GAME_SCHEMA,
    conform,
)

# Lower wins: full box score first, points-only last.
SOURCE_PRIORITY = {
    "league_game_log": 0,
    "team_game_logs": 1,
    "team_game_log": 2,
    "league_game_log_slim": 3,
    "kaggle_games": 4,
}
TEAM_GAME_RESULT_FIELDS = ["pts", "opp_pts", "opponent_id", "is_home", "game_date"]


@dataclass
class DedupResult:
    table: pd.DataFrame
    quarantined: pd.DataFrame
    rows_in: int
    exact_duplicates: int  # collapsed within a source
    merged_across_sources: int  # rows absorbed into a higher-priority source's row
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)

    @property
    def duplicates_removed(self) -> int:
        return self.exact_duplicates + self.merged_across_sources


_NA_HASH = 0x9E3779B97F4A7C15  # as uint64: stands for a missing value in any column


def _column_hash(s: pd.Series) -> np.ndarray:
    """uint64 per row; equal exactly when the values are (NA equal to NA)."""

    if pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
        # text NA and the text '<NA>' hash alike, as in the string fingerprint this replaced
        return pd.util.hash_array(s.astype("string[pyarrow]").fillna("<NA>").to_numpy(dtype=object))
    missing = s.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        values = s.to_numpy(dtype="datetime64[ns]").view("int64")
    elif pd.api.types.is_bool_dtype(s.dtype):
        values = s.to_numpy(dtype=bool, na_value=False)
    elif pd.api.types.is_integer_dtype(s.dtype):
        values = s.to_numpy(dtype="int64", na_value=0)
    else:  # floats: by bit pattern, so -0.0 and 0.0 stay apart as their text did
        values = s.to_numpy(dtype="float64", na_value=0.0)
    hashed = pd.util.hash_array(values)
    hashed[missing] = np.uint64(_NA_HASH)
    return hashed


def _content_key(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A hashable fingerprint of canonical values; floats at 3 decimals. Columns are hashed in
    their own dtype (no per-row text), then combined in order."""

    out = np.full(len(frame), np.uint64(0x345678), dtype=np.uint64)
    mult = np.uint64(1000003)
    for i, c in enumerate(columns):
        s = frame[c]
        if str(s.dtype) in ("Float64", "float64"):
            s = s.round(3)
        out ^= _column_hash(s)
        out *= mult
        mult += np.uint64(82520 + 2 * (len(columns) - i))
    return pd.Series(out, index=frame.index)


def _landed_file(source_file: pd.Series) -> pd.Series:
    """The landed file a row came from: an archive member belongs to its archive."""
    return source_file.astype("string[pyarrow]").str.split("!", n=1).str[0]


def _collapse_exact(frame: pd.DataFrame, key: list[str], schema: dict[str, str]):
    """-> (kept, conflicting rows, number collapsed).

    A conflict is judged inside one landed file: differing rows for a key in one file quarantine
    that file's rows for the key only; the same key in other files of the source stands. Identical
    rows collapse within a file and then across the source's files; rows of one source that still
    differ between files all stay, and the cross-source rules decide between them (rule 3)."""
    content_cols = [c for c in schema if c not in LINEAGE_COLUMNS]
    frame = frame.assign(_content=_content_key(frame, content_cols), _file=_landed_file(frame["source_file"]))
    by_key = frame.groupby(["source", "_file", *key], dropna=False)["_content"].transform("nunique")
    conflicting = frame[by_key > 1].drop(columns=["_content", "_file"])
    clean = frame[by_key <= 1].sort_values(["source", *key, "source_file", "source_row"])
    kept = clean.drop_duplicates(["source", *key, "_content"], keep="first").drop(columns=["_content", "_file"])
    return kept, conflicting, len(clean) - len(kept)


def _quarantine(rows: pd.DataFrame, schema, entity: str, rule: str, reason: pd.Series | str) -> pd.DataFrame:
    n = len(rows)
    reasons = reason if isinstance(reason, pd.Series) else pd.Series([reason] * n, index=rows.index)
    return quarantine_frame(rows, schema, entity, "dedup", [rule] * n, [rule] * n, reasons.to_numpy())


def dedup_team_games(validated: pd.DataFrame) -> DedupResult:
    schema = TEAM_GAME_SCHEMA
    frame = validated.copy()
    rows_in = len(frame)
    quarantined, by_rule = [], {}

    kept, conflicting, exact = _collapse_exact(frame, TEAM_GAME_KEY, schema)
    if len(conflicting):
        # Differing copies inside one source: drop that source's version of the key; other
        # sources may still carry the game (and are checked against each other below).
        quarantined.append(
            _quarantine(
                conflicting,
                schema,
                "team_game",
                "source_internal_conflict",
                "the same source holds differing rows for this game and team",
            )
        )
        by_rule["source_internal_conflict"] = len(conflicting)

    # Cross-source disagreement on any result field -> the whole game is quarantined.
    reasons: dict[str, list[str]] = {}
    for col in TEAM_GAME_RESULT_FIELDS:
        distinct = kept.dropna(subset=[col]).groupby(TEAM_GAME_KEY)[col].nunique()
        for game_id, _team in distinct[distinct > 1].index:
            reasons.setdefault(game_id, []).append(col)
    bad_games = set(reasons)
    if bad_games:
        rows = kept[kept["game_id"].isin(bad_games)]
        detail = rows["game_id"].map(lambda g: "sources disagree on: " + ",".join(sorted(set(reasons.get(g, [])))))
        quarantined.append(_quarantine(rows, schema, "team_game", "source_conflict", detail))
        by_rule["source_conflict"] = len(rows)
        kept = kept[~kept["game_id"].isin(bad_games)]

    # Field-by-field coalesce in priority order.
    kept = kept.assign(_priority=kept["source"].map(SOURCE_PRIORITY).fillna(99))
    # Files of one source that differ on a non-result field: the first file by name wins (recorded).
    kept = kept.sort_values([*TEAM_GAME_KEY, "_priority", "source_file", "source_row"])
    between_files = int(kept.duplicated([*TEAM_GAME_KEY, "source"]).sum())
    # Contributing sources as a bitmask per key, spelled out once per distinct mask (a re-run on
    # an already merged table keeps the sources recorded in its `sources` column).
    recorded = kept["sources"].fillna(kept["source"]) if "sources" in kept else kept["source"]
    bits = {name: 1 << p for name, p in SOURCE_PRIORITY.items()}
    bit_by_value = {v: sum(bits.get(n, 0) for n in str(v).split(",")) for v in recorded.unique()}
    bit = recorded.map(bit_by_value).astype("int64")
    # Bits of distinct sources only (a source may keep rows from several files): sum == OR.
    distinct_source = ~kept.duplicated([*TEAM_GAME_KEY, "source"]).to_numpy()
    mask = bit[distinct_source].groupby([kept.loc[distinct_source, k] for k in TEAM_GAME_KEY]).sum()
    names = sorted(SOURCE_PRIORITY, key=SOURCE_PRIORITY.get)
    spelled = {m: ",".join(n for n in names if m & (1 << SOURCE_PRIORITY[n])) for m in mask.unique()}
    sources = mask.map(spelled)
    merged = kept.groupby(TEAM_GAME_KEY, sort=False).first()  # first non-null per column
    merged_away = len(kept) - len(merged)
    merged = merged.reset_index()
    # Lineage points at the winning row (first() would mix rows' lineage).
    winners = kept.drop_duplicates(TEAM_GAME_KEY, keep="first").set_index(TEAM_GAME_KEY)
    for col in LINEAGE_COLUMNS:
        merged[col] = winners[col].reindex(pd.MultiIndex.from_frame(merged[TEAM_GAME_KEY])).to_numpy()
    merged["sources"] = sources.reindex(pd.MultiIndex.from_frame(merged[TEAM_GAME_KEY])).to_numpy()

    # Every game: two rows, one home, opponents pointing at each other.
    g = merged.groupby("game_id")
    n_rows = g["team_id"].transform("size")
    n_home = merged["is_home"].fillna(False).astype(int).groupby(merged["game_id"]).transform("sum")
    other = merged[["game_id", "team_id", "pts"]].rename(columns={"team_id": "opponent_id", "pts": "_their_pts"})
    merged = merged.merge(other, on=["game_id", "opponent_id"], how="left")
    complete = (n_rows.to_numpy() == 2) & (n_home.to_numpy() == 1) & merged["_their_pts"].notna().to_numpy()
    incomplete = merged[~complete]
    if len(incomplete):
        quarantined.append(
            _quarantine(
                incomplete,
                schema,
                "team_game",
                "game_incomplete",
                "after merging sources the game lacks its other team's row (or has no single home team)",
            )
        )
        by_rule["game_incomplete"] = len(incomplete)
    merged = merged[complete].copy()

    merged["neutral"] = merged["neutral"].astype("boolean").fillna(False)
    # The margin comes from the points, not the source's PLUS_MINUS.
    merged["opp_pts"] = merged["_their_pts"].astype("Int64")
    margin = (merged["pts"] - merged["opp_pts"]).astype("Float64")
    repaired = int(((merged["plus_minus"] != margin) & merged["plus_minus"].notna()).sum())
    filled = int(merged["plus_minus"].isna().sum())
    merged["plus_minus"] = margin

    table = conform(merged, {**schema, "sources": "string"})
    table = table.sort_values(["game_date", "game_id", "is_home"], ignore_index=True)
    q = (
        pd.concat(quarantined, ignore_index=True)
        if quarantined
        else _quarantine(merged.iloc[:0], schema, "team_game", "", "")
    )
    return DedupResult(
        table,
        q,
        rows_in,
        exact,
        merged_away,
        by_rule,
        {"plus_minus_recomputed": repaired, "plus_minus_filled": filled, "rows_differing_between_files": between_files},
    )


def dedup_player_games(validated: pd.DataFrame, team_games: pd.DataFrame) -> DedupResult:
    """Box scores have one source; dedup on (game_id, player_id), then attach each game's
    date, opponent and venue from the deduplicated team-game table."""

    schema = PLAYER_GAME_SCHEMA
    rows_in = len(validated)
    kept, conflicting, exact = _collapse_exact(validated, PLAYER_GAME_KEY, schema)
    quarantined, by_rule = [], {}
    kept, disputed, merged = _merge_player_game_sources(kept)
    if len(conflicting):
        quarantined.append(
            _quarantine(
                conflicting,
                schema,
                "player_game",
                "source_conflict",
                "the same player-game appears with different values",
            )
        )
    if len(disputed):
        quarantined.append(
            _quarantine(disputed, schema, "player_game", "source_conflict", disputed.pop("_disputed_fields"))
        )
    if len(conflicting) + len(disputed):
        by_rule["source_conflict"] = len(conflicting) + len(disputed)
    context = team_games[["game_id", "team_id", *PLAYER_GAME_CONTEXT]]
    kept = kept.drop(columns=[c for c in PLAYER_GAME_CONTEXT if c in kept])  # re-run on its own output
    joined = kept.merge(context, on=["game_id", "team_id"], how="left")
    orphan = joined["game_date"].isna()
    if orphan.any():
        quarantined.append(
            _quarantine(
                joined[orphan],
                schema,
                "player_game",
                "game_not_in_team_games",
                "no accepted team-game row for this game and team",
            )
        )
        by_rule["game_not_in_team_games"] = int(orphan.sum())
    table = conform(joined[~orphan], {**schema, **PLAYER_GAME_CONTEXT})
    table = table.sort_values(["game_date", "game_id", "team_id", "player_id"], ignore_index=True)
    q = (
        pd.concat(quarantined, ignore_index=True)
        if quarantined
        else _quarantine(kept.iloc[:0], schema, "player_game", "", "")
    )
    return DedupResult(table, q, rows_in, exact, merged, by_rule)


# Lower wins: a box score has seconds, the starting position and the DNP comment; a game log not.
PLAYER_SOURCE_PRIORITY = {"box_score_traditional": 0, "player_game_log": 1}
# What two sources of one player-game must agree on (minutes: game logs may round to whole minutes).
PLAYER_GAME_RESULT_FIELDS = ["team_id", "pts", "plus_minus", *PLAYER_GAME_BOX]
MINUTES_TOLERANCE = 1.0


def _merge_player_game_sources(kept: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """A player-game in several rows (a box score and a game log, or one source's files that
    differ): one row when they agree on the stats (the best source's row, gaps such as a game
    log's missing player name filled from the others), else every row quarantined with the
    fields in dispute. -> (kept, disputed rows with `_disputed_fields`, rows merged away)."""
    multi = kept.groupby(PLAYER_GAME_KEY)["source"].transform("size") > 1
    if not multi.any():
        return kept, kept.iloc[:0].assign(_disputed_fields=pd.Series(dtype="string[pyarrow]")), 0
    rows = kept[multi].assign(_priority=kept.loc[multi, "source"].map(PLAYER_SOURCE_PRIORITY).fillna(99))
    rows = rows.sort_values([*PLAYER_GAME_KEY, "_priority", "source_file", "source_row"])
    groups = rows.groupby(PLAYER_GAME_KEY, sort=False)
    fields = [f for f in PLAYER_GAME_RESULT_FIELDS if f in rows]
    differs = {f: groups[f].transform("nunique") > 1 for f in fields}
    spread = groups["minutes"].transform("max") - groups["minutes"].transform("min")
    differs["minutes"] = (spread >= MINUTES_TOLERANCE).fillna(False) | (
        groups["minutes"].transform(lambda m: m.isna().any() and m.notna().any())
    )
    differs["did_play"] = groups["did_play"].transform("nunique") > 1
    disputed_fields = pd.DataFrame(differs)
    bad = disputed_fields.any(axis=1)
    disputed = rows[bad].drop(columns="_priority")
    reason = pd.Series(
        [", ".join(disputed_fields.columns[flags]) for flags in disputed_fields[bad].to_numpy()],
        index=disputed.index,
        dtype="string[pyarrow]",
    )
    disputed = disputed.assign(_disputed_fields="sources disagree on " + reason)
    agreed = rows[~bad]
    merged = agreed.groupby(PLAYER_GAME_KEY, sort=False, as_index=False).first()  # first non-null per column
    merged = merged[agreed.columns].drop(columns="_priority")
    out = pd.concat([kept[~multi], merged], ignore_index=True)
    return out, disputed, len(agreed) - len(merged)


def dedup_players(player_seasons: pd.DataFrame) -> DedupResult:
    """One row per player: the latest season's attributes; a player whose birth date differs
    between seasons is quarantined (identity conflict), not guessed."""

    schema = PLAYER_SEASON_SCHEMA
    rows_in = len(player_seasons)
    frame = player_seasons.assign(source="player_bios") if "source" not in player_seasons else player_seasons
    kept, conflicting, exact = _collapse_exact(frame, ["player_id", "season", "team_id"], schema)
    births = kept.groupby("player_id")["birth_date"].transform("nunique")
    bad = kept[births > 1]
    quarantined, by_rule = [], {}
    if len(conflicting):
        quarantined.append(_quarantine(conflicting, schema, "player", "source_conflict", "player-season rows disagree"))
        by_rule["source_conflict"] = len(conflicting)
    if len(bad):
        quarantined.append(
            _quarantine(bad, schema, "player", "identity_conflict", "birth date differs between seasons")
        )
        by_rule["identity_conflict"] = len(bad)
    kept = kept[births <= 1].sort_values(["player_id", "season", "source_row"])
    g = kept.groupby("player_id")
    latest = g.tail(1).set_index("player_id")
    table = pd.DataFrame(
        {
            "player_id": latest.index,
            "full_name": latest["full_name"].to_numpy(),
            "position": latest["position"].to_numpy(),
            "height_inches": latest["height_inches"].to_numpy(),
            "weight_lbs": latest["weight_lbs"].to_numpy(),
            "birth_date": latest["birth_date"].to_numpy(),
            "school": latest["school"].to_numpy(),
            "first_season": g["season"].min().reindex(latest.index).to_numpy(),
            "last_season": latest["season"].to_numpy(),
            "last_team_id": latest["team_id"].to_numpy(),
            "seasons_on_record": g["season"].nunique().reindex(latest.index).to_numpy(),
            "source": latest["source"].to_numpy(),
            "source_file": latest["source_file"].to_numpy(),
            "source_row": latest["source_row"].to_numpy(),
        }
    )
    table = conform(table, PLAYER_SCHEMA)
    multi_team = len(kept) - len(table)
    q = (
        pd.concat(quarantined, ignore_index=True)
        if quarantined
        else _quarantine(kept.iloc[:0], schema, "player", "", "")
    )
    return DedupResult(table, q, rows_in, exact, multi_team, by_rule)


def dedup_key_unique(frame: pd.DataFrame, key: list[str]) -> bool:
    return not frame.duplicated(key).any()
