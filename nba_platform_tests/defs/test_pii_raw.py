"""PII is masked at raw ingestion: the raw and validated tables never hold it, the raw asset
reports counts by kind and column, and no row is lost."""

import io
import tarfile

import dagster as dg

from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import check_results, materialize_seasons
from nba_platform_tests.lake_files import read_lake

SEASON, G1 = "2021-22", "0022101228"
# BoxScoreTraditionalV2 rows as the shipped archives hold them, plus NICKNAME (a column the shape
# does not know, as in the 2020-21 archive); PII in a comment and in the extra column.
BOX_SCORE = (
    "GAME_ID,TEAM_ID,TEAM_ABBREVIATION,TEAM_CITY,PLAYER_ID,PLAYER_NAME,START_POSITION,COMMENT,MIN,FGM,FGA,FG_PCT,"
    "FG3M,FG3A,FG3_PCT,FTM,FTA,FT_PCT,OREB,DREB,REB,AST,STL,BLK,TO,PF,PTS,PLUS_MINUS,NICKNAME\n"
    f"{G1},1610612755,PHI,Philadelphia,203954,Joel Embiid,C,,41:05,10.0,20.0,0.5,2.0,5.0,0.4,8.0,9.0,0.889,3.0,9.0,"
    "12.0,4.0,1.0,2.0,3.0,2.0,30.0,10.0,ssn 123-45-6789\n"
    f"{G1},1610612755,PHI,Philadelphia,1630178,Tyrese Maxey,G,,35:30,9.0,15.0,0.6,3.0,6.0,0.5,0.0,0.0,0.0,0.0,3.0,"
    "3.0,5.0,2.0,0.0,1.0,1.0,21.0,8.0,JoJo\n"
    f'{G1},1610612755,PHI,Philadelphia,1629001,Charles Bassey,,"DNP - Personal: agent jo@agency.com, (212) 555-0199",'
    ",,,,,,,,,,,,,,,,,,,,JoJo\n"
    f"{G1},1610612765,DET,Detroit,1630595,Cade Cunningham,G,,36:00,8.0,19.0,0.421,2.0,6.0,0.333,4.0,4.0,1.0,1.0,5.0,"
    "6.0,7.0,1.0,0.0,4.0,3.0,22.0,-12.0,JoJo\n"
)


def test_box_score_comments_and_extra_text_columns_are_masked_before_storage(tmp_path, instance):
    resources = embedded_resources(tmp_path, include_sample=False)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"box/{G1}.csv")
        info.size = len(BOX_SCORE.encode())
        tar.addfile(info, io.BytesIO(BOX_SCORE.encode()))
    (tmp_path / "landing" / "boxscores.tar.gz").write_bytes(buf.getvalue())
    rows = BOX_SCORE.splitlines()[1:]

    # the table multi-assets are subsettable: the validated table and the quarantine its
    # nothing-lost check reads are both selected, with every raw player-game shape they read
    selection = dg.AssetSelection.assets(
        dg.AssetKey(["raw", "box_score_traditional"]),
        dg.AssetKey(["raw", "player_game_log"]),
        dg.AssetKey(["tables", "player_games_validated"]),
        dg.AssetKey(["quarantine", "player_games"]),
    )
    result = materialize_seasons([SEASON], resources, instance, selection=selection)
    assert result.success and check_results(result)["player_games_nothing_lost"]

    raw = read_lake(tmp_path / "lake", "raw/box_score_traditional", SEASON)
    assert len(raw) == len(rows)
    assert raw["COMMENT"].tolist()[2] == "DNP - Personal: agent [EMAIL], [PHONE]"
    assert raw["NICKNAME"].tolist() == ["ssn [SSN]", "JoJo", "JoJo", "JoJo"]
    assert raw["MIN"].tolist()[0] == "41:05" and raw["GAME_ID"].tolist()[0] == G1  # typed values untouched
    everything = raw.astype(str).to_csv()
    assert "jo@agency.com" not in everything and "555-0199" not in everything and "123-45-6789" not in everything

    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "raw/box_score_traditional"
    ]
    meta = event.materialization.metadata
    assert meta["pii_masked"].value == {"email": 1, "ipv6": 0, "ipv4": 0, "card": 0, "ssn": 1, "phone": 1}
    assert meta["pii_masked_by_column"].value == {"COMMENT": 2, "NICKNAME": 1}

    validated = read_lake(tmp_path / "lake", "tables/player_games_validated", SEASON)
    assert validated.loc[validated["player_id"] == 1629001, "comment"].tolist() == [
        "DNP - Personal: agent [EMAIL], [PHONE]"
    ]
