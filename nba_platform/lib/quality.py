"""Row rules that split normalised rows into accepted and quarantined, and the
Great Expectations suites that gate the resulting tables.

Two executors on purpose: the pandas rules decide, row by row, what is quarantined (fast,
with the reason on every row); the GX suites are the independent contract the blocking
asset checks enforce on what was accepted. If a rule has a bug, the gate still blocks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from nba_platform.lib.normalise import PARSE_ERRORS
from nba_platform.lib.schema import (
    PLAYER_GAME_BOX,
    QUARANTINE_COLUMNS,
    TEAM_GAME_BOX,
    TEAM_GAME_PCT,
    TEAM_ID_MAX,
    TEAM_ID_MIN,
    conform,
)
from nba_platform.lib.seasons import GAME_ID_RE, SEASON_TYPES, season_window

MAX_TEAM_PTS = 200  # the NBA record is 186
MAX_PLAYER_PTS = 100


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    fails: Callable[[pd.DataFrame], pd.Series]  # True where the row breaks the rule


def _na(s: pd.Series) -> pd.Series:
    return s.isna()


def _gt(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a > b).fillna(False).astype(bool)


def _outside(s: pd.Series, lo: float, hi: float) -> pd.Series:
    return ((s < lo) | (s > hi)).fillna(False).astype(bool)


def _date_outside_season(frame: pd.DataFrame) -> pd.Series:
    bad = pd.Series(False, index=frame.index)
    for season, idx in frame.groupby("season", dropna=True).groups.items():
        lo, hi = season_window(str(season))
        d = frame.loc[idx, "game_date"]
        bad.loc[idx] = ((d < lo) | (d > hi)).fillna(False)
    return bad


def _team_id_invalid(s: pd.Series) -> pd.Series:
    return (s.isna() | (s < TEAM_ID_MIN) | (s > TEAM_ID_MAX)).fillna(True).astype(bool)


def _box_inconsistent(frame: pd.DataFrame, counts: list[str]) -> pd.Series:
    bad = pd.Series(False, index=frame.index)
    for c in counts:
        if c in frame:
            bad |= (frame[c] < 0).fillna(False)
    for made, att in (("fgm", "fga"), ("fg3m", "fg3a"), ("ftm", "fta"), ("fg3m", "fgm")):
        bad |= _gt(frame[made], frame[att])
    for c in TEAM_GAME_PCT:
        if c in frame:
            bad |= _outside(frame[c], 0, 1)
    bad |= (frame["oreb"] + frame["dreb"] != frame["reb"]).fillna(False)
    return bad


def _pair_broken(frame: pd.DataFrame) -> pd.Series:
    """Within one source, a game has at most two distinct teams and, with two, one home and one
    away. A row standing alone (one team's game log) is valid when it knows its opponent and side:
    its partner may be in another source, and dedup checks the pairing across sources."""

    bad = (
        frame["opponent_id"].isna() | frame["is_home"].isna() | (frame["opponent_id"] == frame["team_id"]).fillna(False)
    )
    distinct = frame.drop_duplicates(["source", "game_id", "team_id"])
    distinct = distinct.assign(_home=distinct["is_home"].fillna(False).astype(int))
    g = distinct.groupby(["source", "game_id"])
    teams, homes = g["team_id"].size(), g["_home"].sum()
    # copies of one team's row must agree on side and opponent (a team cannot play itself)
    sides = (
        frame.groupby(["source", "game_id", "team_id"])[["is_home", "opponent_id"]].nunique(dropna=False).max(axis=1)
    )
    agreeing = (sides <= 1).groupby(level=["source", "game_id"]).all()
    ok = (((teams == 2) & (homes == 1)) | ((teams == 1) & (homes <= 1))) & agreeing.reindex(teams.index).fillna(True)
    key = pd.MultiIndex.from_frame(frame[["source", "game_id"]])
    return (bad | ~pd.Series(ok.reindex(key).fillna(False).to_numpy(), index=frame.index)).astype(bool)


def _result_inconsistent(frame: pd.DataFrame) -> pd.Series:
    won = frame["pts"] > frame["opp_pts"]
    bad = (frame["pts"] == frame["opp_pts"]).fillna(False)  # no ties in the NBA
    if "_check_wl" in frame:
        wl = frame["_check_wl"]
        bad |= (wl.notna() & ~wl.isin(["W", "L"])).fillna(False)
        bad |= ((wl == "W") != won).where(wl.isin(["W", "L"]) & won.notna()).fillna(False).astype(bool)
    if "_check_won" in frame:
        w = frame["_check_won"]
        bad |= ((w == 1) != won).where(w.notna() & won.notna()).fillna(False).astype(bool)
    return bad.astype(bool)


TEAM_GAME_RULES: tuple[Rule, ...] = (
    Rule("value_unparseable", "a present value did not parse as its column's type", lambda f: f[PARSE_ERRORS] != ""),
    Rule("game_id_valid", "game id is a 10-char '00TYYNNNNN' string", lambda f: _na(f["game_id"])),
    Rule("team_id_valid", "team id is an NBA franchise id", lambda f: _team_id_invalid(f["team_id"])),
    Rule("game_date_valid", "game date present and parseable", lambda f: _na(f["game_date"])),
    Rule("game_date_in_season", "game date within the season (1 Sep .. 31 Oct next year)", _date_outside_season),
    Rule("pts_present", "points present", lambda f: _na(f["pts"])),
    Rule("pts_range", f"0 <= points <= {MAX_TEAM_PTS}", lambda f: _outside(f["pts"], 0, MAX_TEAM_PTS)),
    Rule(
        "box_consistent",
        "counts >= 0, made <= attempted, pct in [0,1], oreb+dreb = reb",
        lambda f: _box_inconsistent(f, TEAM_GAME_BOX),
    ),
    Rule("game_minutes_range", "48 <= game minutes <= 100", lambda f: _outside(f["game_minutes"], 48, 100)),
    Rule(
        "game_pair",
        "opponent and side known; at most two teams per game in this source, one home, one away",
        _pair_broken,
    ),
    Rule("result_consistent", "no tie; W/L, WON and HOME_TEAM_WINS agree with the points", _result_inconsistent),
    # Holds on every shipped row with a box score; catches points read from the wrong column.
    Rule(
        "pts_consistent",
        "points = 2*FGM + FG3M + FTM (when the source has a box score)",
        lambda f: _player_pts_inconsistent(f),
    ),
)


def _birth_date_missing(f: pd.DataFrame) -> pd.Series:
    missing = f["birth_date"].isna()
    if "source" in f:  # PlayerIndex rows have no birth date to check
        missing &= f["source"].ne("player_index").fillna(True)
    return missing.astype(bool)


def _flagged(f: pd.DataFrame, column: str) -> pd.Series:
    """A normaliser's boolean flag column; False for frames built without it."""
    if column not in f:
        return pd.Series(False, index=f.index)
    return f[column].fillna(False).astype(bool)


def _player_pts_inconsistent(f: pd.DataFrame) -> pd.Series:
    return (f["pts"] != 2 * f["fgm"] + f["fg3m"] + f["ftm"]).fillna(False).astype(bool)


def _dnp_with_stats(f: pd.DataFrame) -> pd.Series:
    return (~f["did_play"] & f["pts"].notna()).fillna(False).astype(bool)


PLAYER_GAME_RULES: tuple[Rule, ...] = (
    Rule("value_unparseable", "a present value did not parse as its column's type", lambda f: f[PARSE_ERRORS] != ""),
    Rule("game_id_valid", "game id is a 10-char '00TYYNNNNN' string", lambda f: _na(f["game_id"])),
    Rule(
        "statistics_present",
        "the box score lists the player with no statistics (V3 player entry without a statistics object)",
        lambda f: _flagged(f, "_statistics_missing"),
    ),
    Rule("team_id_valid", "team id is an NBA franchise id", lambda f: _team_id_invalid(f["team_id"])),
    Rule(
        "player_id_valid",
        "player id present and positive",
        lambda f: (f["player_id"].isna() | (f["player_id"] <= 0)).fillna(True).astype(bool),
    ),
    Rule(
        "box_consistent",
        "counts >= 0, made <= attempted, oreb+dreb = reb",
        lambda f: _box_inconsistent(f, PLAYER_GAME_BOX),
    ),
    Rule("pts_range", f"0 <= points <= {MAX_PLAYER_PTS}", lambda f: _outside(f["pts"], 0, MAX_PLAYER_PTS)),
    Rule("pts_consistent", "points = 2*FGM + FG3M + FTM", _player_pts_inconsistent),
    Rule("minutes_range", "0 <= minutes <= 70", lambda f: _outside(f["minutes"], 0, 70)),
    Rule("dnp_consistent", "a player who did not play has no stats", _dnp_with_stats),
)

PLAYER_SEASON_RULES: tuple[Rule, ...] = (
    Rule("value_unparseable", "a present value did not parse as its column's type", lambda f: f[PARSE_ERRORS] != ""),
    Rule(
        "player_id_valid",
        "player id present and positive",
        lambda f: (f["player_id"].isna() | (f["player_id"] <= 0)).fillna(True).astype(bool),
    ),
    Rule("season_valid", "season is 'YYYY-YY'", lambda f: _na(f["season"])),
    Rule("team_id_valid", "team id is an NBA franchise id", lambda f: _team_id_invalid(f["team_id"])),
    Rule(
        "birth_date_valid",
        "birth date present (PlayerIndex publishes none), 1950..2010",
        lambda f: (_birth_date_missing(f) | _outside(f["birth_date"].dt.year, 1950, 2010)).astype(bool),
    ),
    Rule("height_range", "60 <= height (in) <= 96", lambda f: _outside(f["height_inches"], 60, 96)),
    Rule("weight_range", "130 <= weight (lb) <= 400", lambda f: _outside(f["weight_lbs"], 130, 400)),
)

RULES_BY_ENTITY = {"team_game": TEAM_GAME_RULES, "player_game": PLAYER_GAME_RULES, "player": PLAYER_SEASON_RULES}


@dataclass
class Split:
    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    counts_by_rule: dict[str, int] = field(default_factory=dict)


def apply_rules(frame: pd.DataFrame, rules: tuple[Rule, ...], entity: str, schema: dict[str, str]) -> Split:
    """Every input row ends up in exactly one of accepted / quarantined."""

    frame = frame.reset_index(drop=True)
    for col, dtype in schema.items():  # a source without some columns still gets every rule
        if col not in frame:
            frame[col] = pd.Series(pd.NA, index=frame.index).astype(dtype)
    failed = pd.DataFrame({r.name: r.fails(frame).reindex(frame.index).fillna(True).astype(bool) for r in rules})
    any_failed = failed.any(axis=1)
    accepted = conform(frame[~any_failed], schema)
    bad = frame[any_failed]
    flags = failed[any_failed]
    failed_rules = (
        flags.apply(lambda row: ",".join(row.index[row.to_numpy()]), axis=1)
        if len(bad)
        else pd.Series(dtype="string[pyarrow]")
    )
    first_rule = failed_rules.str.split(",").str[0] if len(bad) else pd.Series(dtype="string[pyarrow]")
    descriptions = {r.name: r.description for r in rules}
    reasons = first_rule.map(descriptions)
    if PARSE_ERRORS in bad and len(bad):
        unparsed = bad[PARSE_ERRORS].str.rstrip(";")
        reasons = reasons.mask(first_rule == "value_unparseable", "unparseable value in: " + unparsed)
    quarantined = quarantine_frame(bad, schema, entity, "validation", first_rule, failed_rules, reasons)
    counts = {r.name: int(failed[r.name].sum()) for r in rules if failed[r.name].any()}
    return Split(accepted, quarantined, counts)


def quarantine_frame(rows, schema, entity, stage, rule, failed_rules, reasons) -> pd.DataFrame:
    canonical = conform(rows, schema)
    records = canonical.astype(object).where(canonical.notna(), None)
    record_json = [json.dumps(r, default=str, ensure_ascii=False) for r in records.to_dict(orient="records")]
    out = pd.DataFrame(
        {
            "entity": entity,
            "stage": stage,
            "rule": list(rule),
            "failed_rules": list(failed_rules),
            "reason": list(reasons),
            "season": canonical["season"].to_numpy() if "season" in canonical else pd.NA,
            "source": canonical["source"].to_numpy(),
            "source_file": canonical["source_file"].to_numpy(),
            "source_row": canonical["source_row"].to_numpy(),
            "record": record_json,
        }
    )
    return conform(out, QUARANTINE_COLUMNS)


# ---------------------------------------------------------------- Great Expectations suites


def team_game_pair_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The deduplicated team-game table plus per-game integrity columns GX can test."""
    view = frame.copy()
    g = view.groupby("game_id")
    view["_rows_in_game"] = g["team_id"].transform("size")
    view["_home_rows_in_game"] = view["is_home"].fillna(False).astype(int).groupby(view["game_id"]).transform("sum")
    other = view[["game_id", "team_id", "pts"]].rename(
        columns={"team_id": "opponent_id", "pts": "_opponent_reported_pts"}
    )
    view = view.merge(other, on=["game_id", "opponent_id"], how="left")
    return view


def team_game_expectations(deduplicated: bool) -> list:
    import great_expectations as gx

    cols = ["game_id", "season", "season_type", "game_date", "team_id", "opponent_id", "is_home", "pts"]
    exps = [
        *[gx.expectations.ExpectColumnToExist(column=c) for c in cols],
        *[gx.expectations.ExpectColumnValuesToNotBeNull(column=c) for c in cols],
        gx.expectations.ExpectColumnValuesToMatchRegex(column="game_id", regex=GAME_ID_RE),
        gx.expectations.ExpectColumnValuesToBeInSet(column="season_type", value_set=list(SEASON_TYPES)),
        gx.expectations.ExpectColumnValuesToBeBetween(column="team_id", min_value=TEAM_ID_MIN, max_value=TEAM_ID_MAX),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="opponent_id", min_value=TEAM_ID_MIN, max_value=TEAM_ID_MAX
        ),
        gx.expectations.ExpectColumnValuesToBeBetween(column="pts", min_value=0, max_value=MAX_TEAM_PTS),
        gx.expectations.ExpectColumnValuesToBeBetween(column="game_minutes", min_value=48, max_value=100, mostly=1.0),
        *[gx.expectations.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1) for c in TEAM_GAME_PCT],
        *[gx.expectations.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in TEAM_GAME_BOX],
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="fga", column_B="fgm", or_equal=True, ignore_row_if="either_value_is_missing"
        ),
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="fta", column_B="ftm", or_equal=True, ignore_row_if="either_value_is_missing"
        ),
        # 1 Sep .. 31 Oct next year: 426 days when the window spans 29 February.
        gx.expectations.ExpectColumnValuesToBeBetween(column="_game_date_offset_days", min_value=0, max_value=426),
    ]
    if deduplicated:
        exps += [
            gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["game_id", "team_id"]),
            gx.expectations.ExpectColumnValuesToBeBetween(column="_rows_in_game", min_value=2, max_value=2),
            gx.expectations.ExpectColumnValuesToBeBetween(column="_home_rows_in_game", min_value=1, max_value=1),
            gx.expectations.ExpectColumnPairValuesToBeEqual(column_A="opp_pts", column_B="_opponent_reported_pts"),
            gx.expectations.ExpectColumnValuesToNotBeNull(column="opp_pts"),
        ]
    return exps


def player_game_expectations(deduplicated: bool) -> list:
    import great_expectations as gx

    cols = ["game_id", "season", "season_type", "team_id", "player_id", "did_play"]
    exps = [
        *[gx.expectations.ExpectColumnValuesToNotBeNull(column=c) for c in cols],
        gx.expectations.ExpectColumnValuesToMatchRegex(column="game_id", regex=GAME_ID_RE),
        gx.expectations.ExpectColumnValuesToBeBetween(column="team_id", min_value=TEAM_ID_MIN, max_value=TEAM_ID_MAX),
        gx.expectations.ExpectColumnValuesToBeBetween(column="minutes", min_value=0, max_value=70),
        gx.expectations.ExpectColumnValuesToBeBetween(column="pts", min_value=0, max_value=MAX_PLAYER_PTS),
        *[gx.expectations.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in PLAYER_GAME_BOX],
    ]
    if deduplicated:
        exps += [
            gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["game_id", "player_id"]),
            gx.expectations.ExpectColumnValuesToNotBeNull(column="game_date"),
        ]
    return exps


def player_expectations(table: str) -> list:
    import great_expectations as gx

    key = ["player_id"] if table == "players" else ["player_id", "season", "team_id"]
    return [
        *[gx.expectations.ExpectColumnValuesToNotBeNull(column=c) for c in key + ["full_name"]],
        # PlayerIndex publishes no birth date (as the birth_date_valid rule allows)
        gx.expectations.ExpectColumnValuesToNotBeNull(
            column="birth_date", row_condition='source!="player_index"', condition_parser="pandas"
        ),
        gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=key)
        if len(key) > 1
        else gx.expectations.ExpectColumnValuesToBeUnique(column="player_id"),
        gx.expectations.ExpectColumnValuesToBeBetween(column="height_inches", min_value=60, max_value=96),
        gx.expectations.ExpectColumnValuesToBeBetween(column="weight_lbs", min_value=130, max_value=400),
    ]


@dataclass
class SuiteResult:
    success: bool
    evaluated: int
    failures: list[dict]

    def markdown(self) -> str:
        if not self.failures:
            return f"All {self.evaluated} expectations passed."
        lines = ["| expectation | column | unexpected | sample |", "|---|---|---|---|"]
        for f in self.failures:
            lines.append(f"| {f['expectation']} | {f['column']} | {f['unexpected_count']} | {f['sample']} |")
        return "\n".join(lines)


# The report needs unexpected values only for failing expectations: a first pass with
# BOOLEAN_ONLY computes counts, and only the failures are re-run with this format.
_REPORT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 3}
_NOT_IDENTITY = {"id", "rendered_content", "notes", "meta"}  # as ExpectationSuite.add_expectation


def _columns_read(expectations: list) -> set[str] | None:
    """Columns the expectations look at; None when one may look at the whole table."""
    cols: set[str] = set()
    for e in expectations:
        kw = e.configuration.kwargs
        named = [kw[k] for k in ("column", "column_A", "column_B") if kw.get(k) is not None]
        named += list(kw.get("column_list") or [])
        if not named or kw.get("row_condition"):
            return None
        cols.update(named)
    return cols or None


def _gx_frame(frame: pd.DataFrame, columns: set[str] | None) -> pd.DataFrame:
    """The columns GX reads, numpy-backed, in one block per dtype: GX filters whole frames
    (every column) per metric, so unread columns cost once per expectation."""

    keep = [c for c in frame.columns if columns is None or c in columns]
    out = frame[keep].copy() if len(keep) < len(frame.columns) else frame.copy()
    if "game_date" in frame and "season" in frame and (columns is None or "_game_date_offset_days" in columns):
        # GX has no 'date within season' expectation: expose the offset from the season's start.
        starts = pd.to_datetime(frame["season"].str.slice(0, 4) + "-09-01", errors="coerce")
        out["_game_date_offset_days"] = (frame["game_date"] - starts).dt.days
    # GX's pandas engine works best on numpy-backed columns.
    for c in out.columns:
        if str(out[c].dtype) in ("Int64", "Float64"):
            out[c] = out[c].astype("float64")
        elif str(out[c].dtype) in ("string", "boolean"):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out.copy()  # consolidate: one block per dtype


def _suite(gx, name: str, expectations: list):
    """An unsaved suite of copies, each tagged with its position. Saving a suite to a context
    re-serialises all of it on every add_expectation (quadratic: most of a call's time)."""
    suite = gx.ExpectationSuite(name=name, expectations=[e.copy(update={"id": None}) for e in expectations])
    for i, e in enumerate(suite.expectations):
        e.id = str(i)
    return suite


def run_suite(frame: pd.DataFrame, suite_name: str, expectations: list) -> SuiteResult:
    """Validate a DataFrame with an ephemeral GX context (no files written)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no network calls from runs
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    distinct, seen = [], []  # a suite is set-like: equal expectations count once
    for e in expectations:
        key = (e.expectation_type, e.dict(exclude=_NOT_IDENTITY))
        if key not in seen:
            seen.append(key)
            distinct.append(e)
    gx_frame = _gx_frame(frame, _columns_read(distinct))

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm noise in run logs
    batch = (
        context.data_sources.add_pandas(f"{suite_name}_source")
        .add_dataframe_asset(name=suite_name)
        .add_batch_definition_whole_dataframe(f"{suite_name}_batch")
        .get_batch(batch_parameters={"dataframe": gx_frame})
    )
    result = batch.validate(_suite(gx, suite_name, distinct), result_format="BOOLEAN_ONLY")
    failed = [distinct[int(r.expectation_config.id)] for r in result.results if not r.success]
    failures = []
    if failed:
        # Details of the failures only, listed in the first pass's order: GX orders results by
        # the whole suite's composition (errored ones first), which a smaller suite changes.
        report = batch.validate(_suite(gx, suite_name, failed), result_format=_REPORT_FORMAT)
        by_position = {int(r.expectation_config.id): r for r in report.results}
        for i in range(len(failed)):
            r = by_position[i]
            cfg = r.expectation_config
            kwargs = cfg.kwargs
            res = r.result or {}
            failures.append(
                {
                    "expectation": cfg.type,
                    "column": kwargs.get("column")
                    or kwargs.get("column_list")
                    or f"{kwargs.get('column_A')}/{kwargs.get('column_B')}",
                    "unexpected_count": res.get("unexpected_count", res.get("observed_value")),
                    "sample": res.get("partial_unexpected_list", [])[:3],
                }
            )
    return SuiteResult(bool(result.success), len(result.results), failures)
