"""Source shapes -> canonical entity rows.

Every quirk of the shipped sources is handled here, explicitly:
- header case (`Team_ID`, lower-case nba_api exports): raw upper-cases names;
- game ids as integers without the leading '00' (Kaggle): `normalise_game_id`;
- dates as ISO, ISO timestamps and 'APR 10, 2019': `parse_dates` tries each known format;
- player minutes as '41:05' (or ISO 'PT41M05.00S'; '15:60' rounding artefacts = 16:00): `parse_minutes`;
- team minutes as 240 player-minutes or 48 game minutes: both become game minutes;
- counts written as floats ('6.0'); `TO` vs `TOV`;
- W/L/W_PCT post-game season records (TeamGameLog): never mapped, they leak results;
- WL / WON / HOME_TEAM_WINS: kept only as `_check_*` columns so validation can test them
  against the points, then dropped;
- float PLUS_MINUS: kept as the source's value for a consistency check; the deduplicated
  table recomputes the margin from both teams' points.
Values that are present but do not parse are never coerced to NA silently: their column
names are listed in `_parse_errors` and validation quarantines the row.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nba_platform.lib.landing import SOURCE_FILE, SOURCE_ROW, player_record_season
from nba_platform.lib.schema import PLAYER_GAME_BOX, TEAM_GAME_BOX, TEAM_GAME_PCT
from nba_platform.lib.seasons import normalise_game_id, season_from_date, season_from_game_id, season_type_from_game_id

NULL_TEXT = {"", "nan", "NaN", "NAN", "none", "None", "NONE", "null", "NULL", "NA", "N/A", "<NA>"}
DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%b %d, %Y", "%m/%d/%Y", "%Y%m%d")
PARSE_ERRORS = "_parse_errors"


def _blank(values: pd.Series) -> pd.Series:
    s = values.astype("string[pyarrow]").str.strip()
    return s.isna() | s.isin(NULL_TEXT)


# Hot paths below run on pyarrow arrays (a 10x box-score season is ~330k rows x 20 columns).
@functools.cache
def _null_text_arrow() -> pa.Array:
    return pa.array(sorted(NULL_TEXT), pa.large_string())


# Plain decimals of at most 15 characters: pyarrow's cast gives the same double as
# pd.to_numeric for these (both exact at <= 15 significant digits); anything else goes to pandas.
_PLAIN_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)$"


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    arr = values.astype("string[pyarrow]").array.__arrow_array__()
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def _string_series(arr: pa.ChunkedArray, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def _to_float(text: pd.Series) -> np.ndarray:
    """pd.to_numeric(text, errors="coerce") as float64 (NaN = NA): pyarrow's cast for plain
    decimals, pandas for every other present value."""

    arr = _arrow(text)
    plain = pc.fill_null(
        pc.and_(pc.match_substring_regex(arr, _PLAIN_NUMBER), pc.less_equal(pc.utf8_length(arr), 15)), False
    )
    values = pc.cast(pc.if_else(plain, arr, pa.scalar(None, pa.large_string())), pa.float64()).to_numpy(
        zero_copy_only=False
    )
    other = ~plain.to_numpy(zero_copy_only=False) & text.notna().to_numpy()
    if other.any():
        values[other] = (
            pd.to_numeric(text[other], errors="coerce").astype("Float64").to_numpy("float64", na_value=np.nan)
        )
    return values


class _Parser:
    """Collects, per row, the columns whose text was present but unparseable."""

    def __init__(self, raw: pd.DataFrame):
        self.raw = raw
        self._flags: list[tuple[str, np.ndarray]] = []

    @property
    def errors(self) -> pd.Series:
        """Per row, every flagged column in flag order, each followed by ';' ('' when none)."""

        out = np.full(len(self.raw), "", dtype=object)
        if self._flags:
            any_bad = np.logical_or.reduce([bad for _, bad in self._flags])
            rows = np.flatnonzero(any_bad)
            for column, bad in self._flags:
                hit = rows[bad[rows]]
                out[hit] = out[hit] + (column + ";")
        return pd.Series(out, index=self.raw.index, dtype="string[pyarrow]")

    def _flag(self, bad: pd.Series, column: str) -> None:
        self._flags.append(
            (
                column,
                np.asarray(bad.to_numpy(dtype=bool, na_value=False) if hasattr(bad, "to_numpy") else bad, dtype=bool),
            )
        )

    def text(self, column: str) -> pd.Series:
        if column not in self.raw:
            return pd.Series(pd.NA, index=self.raw.index, dtype="string[pyarrow]")
        arr = pc.utf8_trim_whitespace(_arrow(self.raw[column]))  # what .str.strip() runs
        blank = pc.is_in(arr, value_set=_null_text_arrow())
        return _string_series(pc.if_else(blank, pa.scalar(None, pa.large_string()), arr), self.raw.index)

    def number(self, column: str, integer: bool = False) -> pd.Series:
        if column not in self.raw:
            return pd.Series(pd.NA, index=self.raw.index, dtype="Int64" if integer else "Float64")
        text = self.text(column)
        values = _to_float(text)
        missing = np.isnan(values)
        bad = text.notna().to_numpy() & missing
        if integer:
            fractional = ~missing & (values != np.round(values))
            bad |= fractional
            missing |= fractional
        self._flag(bad, column)
        floats = pd.arrays.FloatingArray(np.where(missing, 0.0, values), missing)
        if not integer:
            return pd.Series(floats, index=self.raw.index)
        if np.isfinite(values[~missing]).all():
            return pd.Series(
                pd.arrays.IntegerArray(np.round(np.where(missing, 0.0, values)).astype("int64"), missing),
                index=self.raw.index,
            )
        return pd.Series(floats, index=self.raw.index).round().astype("Int64")  # inf: raises, as before

    def date(self, column: str) -> pd.Series:
        text = self.text(column)
        values = parse_dates(text)
        self._flag((text.notna() & values.isna()).fillna(False), column)
        return values

    def game_id(self, column: str = "GAME_ID") -> pd.Series:
        text = self.text(column)
        values = normalise_game_id(text)
        self._flag((text.notna() & values.isna()).fillna(False), column)
        return values

    def minutes(self, column: str = "MIN") -> pd.Series:
        text = self.text(column)
        values = parse_minutes(text)
        self._flag((text.notna() & values.isna()).fillna(False), column)
        return values


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates in any of the known source formats; NaT where none matches."""

    text = values.astype("string[pyarrow]").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for fmt in DATE_FORMATS:
        todo = out.isna() & text.notna()
        if not todo.any():
            break
        out.loc[todo] = pd.to_datetime(
            text[todo].str.title() if "%b" in fmt else text[todo], format=fmt, errors="coerce"
        )
    return out.dt.normalize()


def parse_minutes(values: pd.Series) -> pd.Series:
    """'41:05' -> 41.083, '41' -> 41.0, 'PT41M05.00S' -> 41.083; NA where it does not parse."""

    text = values.astype("string[pyarrow]").str.strip()
    arr = _arrow(text)
    out = np.full(len(text), np.nan)
    # stats.nba.com rounds seconds up to ':60' (e.g. '15:60' = 16:00, 57 rows in 2020-21): accepted;
    # anything above 60 is corrupt and stays unparsed (quarantined).
    m = pc.fill_null(pc.match_substring_regex(arr, r"^(\d{1,3}):([0-5]?\d|60)$"), False)
    m_np = m.to_numpy(zero_copy_only=False)
    if m_np.any():
        parts = pc.split_pattern(pc.filter(arr, m), ":")
        minutes = pc.cast(pc.list_element(parts, 0), pa.float64()).to_numpy(zero_copy_only=False)
        seconds = pc.cast(pc.list_element(parts, 1), pa.float64()).to_numpy(zero_copy_only=False)
        out[m_np] = minutes + seconds / 60.0
    i = pc.fill_null(pc.match_substring_regex(arr, r"^PT\d+M[0-5]?\d(?:\.\d+)?S$"), False).to_numpy(
        zero_copy_only=False
    )
    if i.any():  # rare: the ISO form, through the original pandas path
        iso = text[i].str.extract(r"^PT(\d+)M([0-5]?\d(?:\.\d+)?)S$")
        out[i] = (iso[0].astype(float) + iso[1].astype(float) / 60.0).to_numpy()
    colon = pc.fill_null(pc.match_substring(arr, ":"), False).to_numpy(zero_copy_only=False)
    plain_rows = ~(m_np | i) & ~colon & text.notna().to_numpy()
    if plain_rows.any():
        out[plain_rows] = _to_float(text[plain_rows])
    return pd.Series(out, index=values.index).round(3).astype("Float64")


def _common(p: _Parser, source: str) -> dict[str, pd.Series]:
    game_id = p.game_id()
    season = season_from_game_id(game_id)
    return {
        "game_id": game_id,
        "season": season,
        "season_type": season_type_from_game_id(game_id),
        "source": pd.Series(source, index=p.raw.index, dtype="string[pyarrow]"),
        "source_file": p.raw[SOURCE_FILE].astype("string[pyarrow]"),
        "source_row": p.raw[SOURCE_ROW].astype("int64"),
    }


def _team_game_per_team(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """The four nba_api-style shapes with one row per team per game."""

    p = _Parser(raw)
    cols = _common(p, source)
    matchup = p.text("MATCHUP")
    is_home = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    is_home = is_home.mask(matchup.str.contains(" vs. ", regex=False).fillna(False), True)
    is_home = is_home.mask(matchup.str.contains(" @ ", regex=False).fillna(False), False)
    minutes = p.number("MIN")
    # LeagueGameLog/TeamGameLog report 240 player-minutes; TeamGameLogs reports 48 game minutes.
    game_minutes = minutes.where(minutes < 150, minutes / 5)
    turnover_col = "TOV" if "TOV" in raw else "TO"
    out = pd.DataFrame(
        {
            **cols,
            "game_date": p.date("GAME_DATE"),
            "team_id": p.number("TEAM_ID", integer=True),
            "is_home": is_home,
            "team_abbreviation": p.text("TEAM_ABBREVIATION"),
            "pts": p.number("PTS", integer=True),
            "game_minutes": game_minutes,
            **{c: p.number(turnover_col if c == "tov" else c.upper(), integer=True) for c in TEAM_GAME_BOX},
            **{c: p.number(c.upper()) for c in TEAM_GAME_PCT},
            "plus_minus": p.number("PLUS_MINUS"),
            "_check_wl": p.text("WL").str.upper(),
            "_check_won": p.number("WON", integer=True),
            "_matchup": matchup,
        }
    )
    if matchup.notna().any() and (matchup.notna() & is_home.isna()).any():
        p._flag((matchup.notna() & is_home.isna()).fillna(False), "MATCHUP")
    out[PARSE_ERRORS] = p.errors
    return _pair_opponents(_neutral_sites(out))


def _neutral_sites(frame: pd.DataFrame) -> pd.DataFrame:
    """Games whose two team rows both read 'X @ Y' are neutral-site games: `neutral` is set on
    both rows, and the first-listed team (first row in the source) takes the home slot."""
    import numpy as np

    away = (frame["is_home"] == False).fillna(False)  # noqa: E712 (nullable boolean)
    keyed = frame["game_id"].notna() & frame["team_id"].notna()
    rows = frame[keyed].assign(_away=away[keyed])
    per_game = (
        rows.drop_duplicates(["game_id", "team_id"])
        .groupby("game_id")
        .agg(teams=("team_id", "size"), away=("_away", "sum"))
    )
    neutral_games = per_game.index[(per_game["teams"] == 2) & (per_game["away"] == 2)]
    neutral = frame["game_id"].isin(neutral_games).fillna(False).to_numpy(dtype=bool) & keyed.to_numpy()
    frame["neutral"] = pd_boolean(neutral)
    if neutral.any():
        order = frame.loc[neutral, ["game_id", "source_file", "source_row"]].sort_values(["source_file", "source_row"])
        first = order.drop_duplicates("game_id").index
        first_team = frame.loc[first].set_index("game_id")["team_id"]
        listed_first = frame["team_id"].to_numpy() == frame["game_id"].map(first_team).to_numpy()
        frame["is_home"] = frame["is_home"].mask(neutral, pd_boolean(np.asarray(listed_first, dtype=bool) & neutral))
    return frame


def pd_boolean(values) -> pd.Series:
    import pandas as pd

    return pd.array(values, dtype="boolean")


def _pair_opponents(frame: pd.DataFrame) -> pd.DataFrame:
    """opponent_id / opp_pts from the other team's row of the same game in the same source; a row
    that stands alone (one team's game log) takes its opponent from the matchup ('BOS @ NYK') and
    its opponent's points from its own plus-minus where it has one. Pairing across sources is
    checked at dedup (the game needs both teams' rows there)."""
    distinct = frame.dropna(subset=["game_id", "team_id"]).drop_duplicates(["game_id", "team_id"])
    teams_per_game = distinct.groupby("game_id")["team_id"].nunique()
    two = distinct[distinct["game_id"].map(teams_per_game) == 2]
    other = two[["game_id", "team_id", "pts"]].rename(columns={"team_id": "opponent_id", "pts": "opp_pts"})
    pairs = two[["game_id", "team_id"]].merge(other, on="game_id")
    pairs = pairs[pairs["team_id"] != pairs["opponent_id"]]
    frame = frame.merge(pairs, on=["game_id", "team_id"], how="left")
    frame["opponent_id"] = frame["opponent_id"].astype("Int64")
    frame["opp_pts"] = frame["opp_pts"].astype("Int64")
    alone = frame["opponent_id"].isna() & frame["_matchup"].notna() & frame["team_id"].notna()
    if alone.any():
        listed = frame.loc[alone, "_matchup"].str.extract(r"^\s*(\w+)\s+(?:@|vs\.)\s+(\w+)\s*$")
        team_of = abbreviation_team_ids()
        opponent = listed[1].str.upper().map(team_of).astype("Int64")
        frame.loc[alone, "opponent_id"] = opponent
        if "plus_minus" in frame:
            margin = frame.loc[alone, "plus_minus"]
            whole = margin.notna() & (margin == margin.round())
            frame.loc[alone, "opp_pts"] = (frame.loc[alone, "pts"] - margin).where(whole).round().astype("Int64")
    return frame


@functools.cache
def abbreviation_team_ids() -> dict[str, int]:
    """Team abbreviation -> franchise id: the shipped team reference plus former abbreviations."""
    from importlib import resources

    import pandas as pd

    with (resources.files("nba_platform") / "data" / "reference" / "teams.csv").open("rb") as f:
        teams = pd.read_csv(f, dtype={"ABBREVIATION": str}, usecols=["TEAM_ID", "ABBREVIATION"])
    return {**dict(zip(teams["ABBREVIATION"], teams["TEAM_ID"].astype(int))), **FORMER_TEAM_IDS}


# Abbreviations stats.nba.com used for franchises before their current one (game logs since 1996).
FORMER_TEAM_IDS = {
    "NJN": 1610612751,  # New Jersey Nets -> BKN
    "SEA": 1610612760,  # Seattle SuperSonics -> OKC
    "NOH": 1610612740,  # New Orleans Hornets -> NOP
    "NOK": 1610612740,  # New Orleans/Oklahoma City Hornets
    "CHH": 1610612766,  # Charlotte Hornets (1988-2002) -> CHA
    "VAN": 1610612763,  # Vancouver Grizzlies -> MEM
    "WSB": 1610612764,  # Washington Bullets -> WAS
}


def _kaggle_games(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """One row per game -> a home row and an away row (both keep the source row number)."""

    p = _Parser(raw)
    cols = _common(p, source)
    date = p.date("GAME_DATE_EST")
    home_id, away_id = p.number("HOME_TEAM_ID", integer=True), p.number("VISITOR_TEAM_ID", integer=True)
    # TEAM_ID_home/away repeat HOME/VISITOR_TEAM_ID; a disagreement is a defect, flagged below.
    dup_home, dup_away = p.number("TEAM_ID_HOME", integer=True), p.number("TEAM_ID_AWAY", integer=True)
    home_wins = p.number("HOME_TEAM_WINS", integer=True)
    side_values = {}
    for side in ("HOME", "AWAY"):
        side_values[side] = {
            "pts": p.number(f"PTS_{side}", integer=True),
            "fg_pct": p.number(f"FG_PCT_{side}"),
            "ft_pct": p.number(f"FT_PCT_{side}"),
            "fg3_pct": p.number(f"FG3_PCT_{side}"),
            "ast": p.number(f"AST_{side}", integer=True),
            "reb": p.number(f"REB_{side}", integer=True),
        }
    mismatch = ((dup_home.notna() & (dup_home != home_id)) | (dup_away.notna() & (dup_away != away_id))).fillna(False)
    p._flag(mismatch, "TEAM_ID_HOME/TEAM_ID_AWAY")
    rows = []
    for side, team, opp, is_home in (("HOME", home_id, away_id, True), ("AWAY", away_id, home_id, False)):
        mine, theirs = side_values[side], side_values["AWAY" if side == "HOME" else "HOME"]
        won = home_wins if is_home else (1 - home_wins)
        rows.append(
            pd.DataFrame(
                {
                    **cols,
                    "game_date": date,
                    "team_id": team,
                    "opponent_id": opp,
                    "is_home": pd.Series(is_home, index=raw.index, dtype="boolean"),
                    "neutral": pd.Series(False, index=raw.index, dtype="boolean"),  # Kaggle names a home team
                    "opp_pts": theirs["pts"],
                    **mine,
                    "_check_won": won,
                    PARSE_ERRORS: p.errors,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def normalise_team_games(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    if source == "kaggle_games":
        return _kaggle_games(raw, source)
    return _team_game_per_team(raw, source)


def normalise_player_games(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Box scores (V2, or V3 flattened to V2's columns: lib/box_score.py) and player game logs.

    Player game logs lack fields the box score has; they stay null (never guessed): START_POSITION
    and COMMENT always, PLAYER_NAME in PlayerGameLog. PlayerGameLog has no TEAM_ID either: the team
    is the first abbreviation of MATCHUP ('CLE @ CHA' -> CLE) in the team reference; an unknown one
    quarantines the row (value_unparseable, naming MATCHUP). Its MIN is whole minutes."""
    p = _Parser(raw)
    cols = _common(p, source)
    minutes = p.minutes("MIN")
    comment = p.text("COMMENT")
    turnover_col = "TOV" if "TOV" in raw else "TO"
    team_id = p.number("TEAM_ID", integer=True)
    if source == "player_game_log":
        team_id = team_id.fillna(_matchup_team(p, needed=team_id.isna()))
    counts = {c: p.number(turnover_col if c == "tov" else c.upper(), integer=True) for c in PLAYER_GAME_BOX}
    plus_minus = p.number("PLUS_MINUS")
    # V3 writes zeros for a player who did not play where V2 writes nulls: no minutes and nothing
    # but zeros is no stats (a DNP row with any non-zero count still fails dnp_consistent).
    no_minutes = p.text("MIN").isna()
    all_zero = pd.concat([*counts.values(), plus_minus], axis=1).fillna(0).eq(0).all(axis=1)
    zero_dnp = (no_minutes & all_zero).to_numpy(dtype=bool)
    if zero_dnp.any():
        counts = {c: v.mask(zero_dnp) for c, v in counts.items()}
        plus_minus = plus_minus.mask(zero_dnp)
    statistics = p.text("STATISTICS")  # V3: "missing" for a player entry without statistics
    start_position = p.text("START_POSITION")
    out = pd.DataFrame(
        {
            **cols,
            "team_id": team_id,
            "player_id": p.number("PLAYER_ID", integer=True),
            "player_name": p.text("PLAYER_NAME"),
            # A box score's bench players have a blank position; a game log does not say (null).
            "start_position": start_position if source == "player_game_log" else start_position.fillna(""),
            "comment": comment,
            "did_play": minutes.notna(),
            "minutes": minutes,
            **counts,
            "plus_minus": plus_minus,
            "_statistics_missing": statistics.str.lower().eq("missing").fillna(False).astype(bool),
        }
    )
    out[PARSE_ERRORS] = p.errors
    return out


def _matchup_team(p: _Parser, needed: pd.Series) -> pd.Series:
    """The team of a PlayerGameLog row: the first abbreviation of its MATCHUP, by the team
    reference; a row `needed` whose matchup names an unknown team is flagged."""
    matchup = p.text("MATCHUP")
    listed = matchup.str.extract(r"^\s*(\w+)\s+(?:@|vs\.)\s+\w+\s*$")[0].str.upper()
    team = listed.map(abbreviation_team_ids()).astype("Int64")
    unknown = (needed & matchup.notna() & team.isna()).fillna(False)
    p._flag(unknown, "MATCHUP (team abbreviation not in the team reference)")
    return team


def _height_inches(text: pd.Series) -> pd.Series:
    parts = text.str.extract(r"^(\d)-(\d{1,2})$").astype("Float64")
    return parts[0] * 12 + parts[1]


def normalise_player_seasons(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """player_bios rows, and the same fields from CommonPlayerInfo (`player_info`: DISPLAY_FIRST_LAST,
    BIRTHDATE, SEASON_EXP) and PlayerIndex (`player_index`: first + last name, COLLEGE; it
    publishes no birth date, so the birth date stays null for its rows)."""
    p = _Parser(raw)
    height = p.number("HEIGHT_INCHES") if "HEIGHT_INCHES" in raw else pd.Series(pd.NA, index=raw.index, dtype="Float64")
    height = height.fillna(_height_inches(p.text("HEIGHT")))
    experience = p.text("SEASON_EXP" if source == "player_info" else "EXPERIENCE").replace({"R": "0"})
    if source == "player_index":
        first, last = p.text("PLAYER_FIRST_NAME"), p.text("PLAYER_LAST_NAME")
        full_name = (first.fillna("") + " " + last.fillna("")).str.strip().replace("", pd.NA)
    else:
        full_name = p.text("DISPLAY_FIRST_LAST" if source == "player_info" else "FULL_NAME")
    out = pd.DataFrame(
        {
            "player_id": p.number("PERSON_ID", integer=True),
            "season": player_record_season(raw),
            "team_id": p.number("TEAM_ID", integer=True),
            "full_name": full_name,
            "position": p.text("POSITION"),
            "height_inches": height,
            "weight_lbs": p.number("WEIGHT"),
            "birth_date": p.date("BIRTHDATE" if source == "player_info" else "BIRTH_DATE"),
            "experience_years": pd.to_numeric(experience, errors="coerce").astype("Int64"),
            "school": p.text("COLLEGE" if source == "player_index" else "SCHOOL"),
            "source": pd.Series(source, index=raw.index, dtype="string[pyarrow]"),
            "source_file": raw[SOURCE_FILE].astype("string[pyarrow]"),
            "source_row": raw[SOURCE_ROW].astype("int64"),
        }
    )
    bad_exp = experience.notna() & out["experience_years"].isna()
    p._flag(bad_exp.fillna(False), "EXPERIENCE")
    out[PARSE_ERRORS] = p.errors
    return out


def fill_season_from_date(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a malformed game id still need a season for their partition."""
    if "game_date" in frame:
        frame["season"] = frame["season"].fillna(season_from_date(frame["game_date"]))
    return frame
