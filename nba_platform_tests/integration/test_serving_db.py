"""Publishing to the serving database: real Postgres (slices replaced by DELETE + COPY, upsert fallback) and the embedded SQLite."""

import pandas as pd
import psycopg
import pytest

from nba_platform.resources.secrets import Secrets
from nba_platform.resources.serving_db import ServingDatabase

pytestmark = pytest.mark.integration


def predictions(p=0.6, version=1, name="nba_game_outcome"):
    return pd.DataFrame(
        {
            "game_id": ["0022300001", "0022300002"],
            "season": ["2023-24"] * 2,
            "game_date": pd.to_datetime(["2023-10-24", "2023-10-24"]),
            "home_team_id": [1610612743, 1610612744],
            "away_team_id": [1610612747, 1610612756],
            "p_home_win": [p, 0.4],
            "elo_p_home_win": [0.55, 0.45],
            "model_name": [name] * 2,
            "model_version": [version] * 2,
            "published_at": pd.to_datetime(["2026-11-25T10:00:00"] * 2),
            "top_factors": ['[{"feature": "diff_elo_pre", "value": 85.2, "shap": 0.31}]', None],
        }
    )


def test_postgres_publish_twice_is_idempotent_and_upserts(postgres_db):
    db = ServingDatabase(url=postgres_db["url"], secrets=Secrets(source="env"))
    assert db.publish("game_predictions", predictions()) == 2
    assert db.publish("game_predictions", predictions()) == 2
    rows = db.query("SELECT game_id, p_home_win, model_version FROM game_predictions ORDER BY game_id")
    assert len(rows) == 2 and rows["p_home_win"].tolist() == [0.6, 0.4]
    db.publish("game_predictions", predictions(p=0.7))  # same key, new value -> updated in place
    assert db.query("SELECT p_home_win FROM game_predictions WHERE game_id = '0022300001'")["p_home_win"].item() == 0.7
    db.publish("game_predictions", predictions(version=2))  # a newer version of the model replaces the season's rows
    assert db.query("SELECT count(*) AS n, max(model_version) AS v FROM game_predictions").values.tolist() == [[2, 2]]
    db.publish("game_predictions", predictions(name="nba_game_outcome_backfill"))  # another model name -> new rows
    assert db.query("SELECT count(*) AS n FROM game_predictions")["n"].item() == 4
    with psycopg.connect(postgres_db["dsn"]) as con:
        pk = con.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'game_predictions'::regclass AND i.indisprimary ORDER BY a.attname"
        ).fetchall()
        indexes = {
            r[0]
            for r in con.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'game_predictions'").fetchall()
        }
    assert [r[0] for r in pk] == ["game_id", "model_name"]
    assert {"ix_game_predictions_game_date", "ix_game_predictions_home_team_id_game_date"} <= indexes


def test_postgres_publish_is_atomic_on_bad_rows(postgres_db):
    db = ServingDatabase(url=postgres_db["url"], secrets=Secrets(source="env"))
    db.publish("game_predictions", predictions())
    bad = predictions(p=0.9)
    bad.loc[1, "p_home_win"] = "not a number"
    with pytest.raises(psycopg.Error):
        db.publish("game_predictions", bad)
    # nothing of the failed publish is visible
    assert db.query("SELECT p_home_win FROM game_predictions ORDER BY game_id")["p_home_win"].tolist() == [0.6, 0.4]


def test_sqlite_publish_same_contract(tmp_path):
    db = ServingDatabase(url=f"sqlite:///{tmp_path}/serving.db", secrets=Secrets(source="env"))
    db.publish("game_predictions", predictions())
    db.publish("game_predictions", predictions(p=0.7))
    rows = db.query("SELECT game_id, p_home_win FROM game_predictions ORDER BY game_id")
    assert rows["p_home_win"].tolist() == [0.7, 0.4]


def test_a_table_created_before_a_new_column_gets_it_on_publish(postgres_db, tmp_path):
    """top_factors was added after serving tables existed: publishing adds the column, old rows keep NULL."""
    import sqlite3

    import psycopg

    old = predictions().drop(columns=["top_factors"])
    with psycopg.connect(postgres_db["dsn"]) as con:
        con.execute(
            "CREATE TABLE game_predictions (game_id TEXT, season TEXT, game_date DATE, home_team_id BIGINT, "
            "away_team_id BIGINT, p_home_win DOUBLE PRECISION, elo_p_home_win DOUBLE PRECISION, model_version TEXT, "
            "published_at TIMESTAMP, PRIMARY KEY (game_id, model_version))"
        )
        con.execute(
            "INSERT INTO game_predictions VALUES ('0022299999', '2022-23', '2023-04-09', 1, 2, 0.5, 0.5, 'v0', now())"
        )
    sqlite_path = tmp_path / "serving.db"
    con = sqlite3.connect(sqlite_path)
    con.execute(
        "CREATE TABLE game_predictions (game_id TEXT, season TEXT, game_date TEXT, home_team_id INTEGER, "
        "away_team_id INTEGER, p_home_win REAL, elo_p_home_win REAL, model_version TEXT, published_at TEXT, "
        "PRIMARY KEY (game_id, model_version))"
    )
    con.commit()
    con.close()
    assert len(old.columns) == 10
    for url in (postgres_db["url"], f"sqlite:///{sqlite_path}"):
        db = ServingDatabase(url=url, secrets=Secrets(source="env"))
        assert db.publish("game_predictions", predictions()) == 2
        rows = db.query("SELECT game_id, top_factors FROM game_predictions ORDER BY game_id")
        assert rows["top_factors"].notna().sum() == 1 and "diff_elo_pre" in rows["top_factors"].dropna().iloc[0]


def games(ids, season="2023-24", pts=100):
    return pd.DataFrame(
        {
            "game_id": ids,
            "season": season,
            "season_type": "regular",
            "game_date": pd.to_datetime(["2023-10-24"] * len(ids)),
            "home_team_id": 1610612743,
            "away_team_id": 1610612747,
            "home_pts": pts,
            "away_pts": 90,
        }
    )


def test_postgres_publish_replaces_the_slices_it_holds_and_keeps_the_others(postgres_db):
    """A republished season (games) or season + model name (predictions) holds exactly the new
    rows: a game it no longer has disappears; other seasons and other model names are kept."""
    db = ServingDatabase(url=postgres_db["url"], secrets=Secrets(source="env"))
    db.publish("games", pd.concat([games(["a1", "a2", "a3"]), games(["b1"], season="2022-23")], ignore_index=True))
    db.publish("games", games(["a1", "a2"], pts=101))  # a3 dropped from 2023-24 since
    rows = db.query("SELECT game_id, season, home_pts FROM games ORDER BY game_id")
    assert rows.values.tolist() == [["a1", "2023-24", 101], ["a2", "2023-24", 101], ["b1", "2022-23", 100]]

    db.publish("game_predictions", predictions(name="nba_game_outcome_backfill", version=9))
    db.publish("game_predictions", predictions(version=9))
    db.publish("game_predictions", predictions(p=0.8, version=19).head(1))  # a refit replaces the season's slice
    rows = db.query(
        "SELECT game_id, model_name, model_version, p_home_win FROM game_predictions ORDER BY model_name, game_id"
    )
    assert rows.values.tolist() == [
        ["0022300001", "nba_game_outcome", 19, 0.8],
        ["0022300001", "nba_game_outcome_backfill", 9, 0.6],
        ["0022300002", "nba_game_outcome_backfill", 9, 0.4],
    ]


def test_postgres_publish_of_a_key_held_by_another_season_upserts_it(postgres_db):
    """A game published under another season than before (its key held outside the replaced
    slices) is moved, not refused; the slice is still replaced whole, in one transaction."""
    db = ServingDatabase(url=postgres_db["url"], secrets=Secrets(source="env"))
    db.publish("games", pd.concat([games(["a1"]), games(["b1", "b2"], season="2022-23")], ignore_index=True))
    db.publish("games", games(["b1", "a2"], pts=105))  # b1 moves to 2023-24; a1 no longer in 2023-24
    rows = db.query("SELECT game_id, season, home_pts FROM games ORDER BY game_id")
    assert rows.values.tolist() == [["a2", "2023-24", 105], ["b1", "2023-24", 105], ["b2", "2022-23", 100]]


def test_postgres_publish_without_slice_keys_upserts_and_duplicates_are_refused(postgres_db):
    db = ServingDatabase(url=postgres_db["url"], secrets=Secrets(source="env"))
    db.publish("games", games(["a1", "a2"]))
    no_season = games(["a2"], pts=107).astype({"season": object})
    no_season.loc[0, "season"] = None  # no slice to name: upserted, a1 kept
    db.publish("games", no_season)
    assert db.query("SELECT game_id, season, home_pts FROM games ORDER BY game_id").values.tolist() == [
        ["a1", "2023-24", 100],
        ["a2", None, 107],
    ]
    with pytest.raises(psycopg.Error):  # the same key twice in one publish: refused, nothing changes
        db.publish("games", games(["a1", "a1"], pts=1))
    assert db.query("SELECT count(*) AS n, sum(home_pts) AS s FROM games").values.tolist() == [[2, 207]]


def test_postgres_publish_keeps_dates_and_timestamps_to_the_second(postgres_db):
    db = ServingDatabase(url=postgres_db["url"], secrets=Secrets(source="env"))
    frame = predictions()
    frame["published_at"] = pd.to_datetime(["2026-11-25T10:00:07.900", "1969-12-31T23:59:59.000"])
    db.publish("game_predictions", frame)
    rows = db.query("SELECT game_date::text AS d, published_at::text AS t FROM game_predictions ORDER BY game_id")
    assert rows.values.tolist() == [["2023-10-24", "2026-11-25 10:00:07"], ["2023-10-24", "1969-12-31 23:59:59"]]


LEGACY_ROWS = [  # text labels, one row per refit of a game: v9 sorts after v19 as text
    ("0022200001", "2022-23", "2023-04-01", 1, 2, 0.51, 0.5, "nba_game_outcome/v9", "2026-11-01T10:00:00"),
    ("0022200001", "2022-23", "2023-04-01", 1, 2, 0.52, 0.5, "nba_game_outcome/v19", "2026-11-02T10:00:00"),
    ("0022200001", "2022-23", "2023-04-01", 1, 2, 0.53, 0.5, "nba_game_outcome/v2", "2026-11-03T10:00:00"),
    ("0022200002", "2022-23", "2023-04-02", 3, 1, 0.44, 0.5, "nba_game_outcome/v9", "2026-11-01T10:00:00"),
]


def test_text_model_versions_are_migrated_to_name_and_integer_version(postgres_db, tmp_path):
    """Tables of the text-label schema (PK game_id, model_version) are migrated in the publish
    transaction: model name + BIGINT version, PK (game_id, model_name), stacked refits reduced to
    the newest version (numerically: v19, not v9), and max() is numeric afterwards."""
    import sqlite3

    ddl = (
        "CREATE TABLE game_predictions (game_id TEXT, season TEXT, game_date {date}, home_team_id BIGINT, "
        "away_team_id BIGINT, p_home_win {real}, elo_p_home_win {real}, model_version TEXT, published_at {ts}, "
        "top_factors TEXT, PRIMARY KEY (game_id, model_version))"
    )
    with psycopg.connect(postgres_db["dsn"]) as con:
        con.execute(ddl.format(date="DATE", real="DOUBLE PRECISION", ts="TIMESTAMP"))
        con.execute("CREATE INDEX ix_game_predictions_game_date ON game_predictions (game_date)")
        for row in LEGACY_ROWS:
            con.execute("INSERT INTO game_predictions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, NULL)", row)
    sqlite_path = tmp_path / "serving.db"
    con = sqlite3.connect(sqlite_path)
    con.execute(ddl.format(date="TEXT", real="REAL", ts="TEXT"))
    con.execute("CREATE INDEX ix_game_predictions_game_date ON game_predictions (game_date)")
    con.executemany("INSERT INTO game_predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)", LEGACY_ROWS)
    con.commit()
    con.close()

    for url in (postgres_db["url"], f"sqlite:///{sqlite_path}"):
        db = ServingDatabase(url=url, secrets=Secrets(source="env"))
        assert db.publish("game_predictions", predictions(version=21)) == 2
        rows = db.query(
            "SELECT game_id, model_name, model_version, p_home_win FROM game_predictions ORDER BY game_id, model_name"
        )
        assert rows.values.tolist() == [
            ["0022200001", "nba_game_outcome", 19, 0.52],
            ["0022200002", "nba_game_outcome", 9, 0.44],
            ["0022300001", "nba_game_outcome", 21, 0.6],
            ["0022300002", "nba_game_outcome", 21, 0.4],
        ], url
        latest = db.query("SELECT max(model_version) AS v FROM game_predictions WHERE season = '2022-23'")
        assert latest["v"].item() == 19
        assert db.publish("game_predictions", predictions(version=22)) == 2  # migrated once; publishing goes on
        assert db.query("SELECT count(*) AS n FROM game_predictions")["n"].item() == 4

    with psycopg.connect(postgres_db["dsn"]) as con:
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'game_predictions'"
            ).fetchall()
        )
        pk = con.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'game_predictions'::regclass AND i.indisprimary ORDER BY a.attname"
        ).fetchall()
    assert types["model_version"] == "bigint" and types["model_name"] == "text"
    assert [r[0] for r in pk] == ["game_id", "model_name"]
    con = sqlite3.connect(sqlite_path)
    declared = {r[1]: (r[2], r[5]) for r in con.execute("PRAGMA table_info(game_predictions)")}
    indexes = {r[1] for r in con.execute("PRAGMA index_list(game_predictions)")}
    con.close()
    assert declared["model_version"] == ("INTEGER", 0) and declared["model_name"][1] == 2  # 2nd PK column
    assert {"ix_game_predictions_home_team_id_game_date", "ix_game_predictions_away_team_id_game_date"} <= indexes


TEAM_LATEST = (  # README "Serving queries": latest forecasts for a team, one index per side
    "SELECT * FROM ("
    " SELECT game_id, game_date, home_team_id, away_team_id, p_home_win FROM game_predictions"
    " WHERE home_team_id = {team} AND model_name = 'nba_game_outcome'"
    " UNION ALL"
    " SELECT game_id, game_date, home_team_id, away_team_id, p_home_win FROM game_predictions"
    " WHERE away_team_id = {team} AND model_name = 'nba_game_outcome'"
    ") latest ORDER BY game_date DESC LIMIT 10"
)


def many_predictions(n=3000):
    import numpy as np

    rng = np.random.default_rng(0)
    frame = pd.concat([predictions()] * (n // 2), ignore_index=True)
    frame["game_id"] = [f"{i:010d}" for i in range(len(frame))]
    frame["game_date"] = pd.Timestamp("2023-10-24") + pd.to_timedelta(rng.integers(0, 170, len(frame)), unit="D")
    frame["home_team_id"] = rng.integers(1, 31, len(frame))
    frame["away_team_id"] = (frame["home_team_id"] + rng.integers(1, 30, len(frame))) % 30 + 1
    return frame


def test_latest_forecasts_for_a_team_read_the_team_indexes(postgres_db, tmp_path):
    """The README's team query is answered from the (home|away)_team_id, game_date indexes, not a scan."""
    for url in (postgres_db["url"], f"sqlite:///{tmp_path}/serving.db"):
        db = ServingDatabase(url=url, secrets=Secrets(source="env"))
        frame = many_predictions()
        db.publish("game_predictions", frame)
        sql = TEAM_LATEST.format(team=7)
        got = db.query(sql)
        team_rows = frame[(frame["home_team_id"] == 7) | (frame["away_team_id"] == 7)]
        expected = team_rows.sort_values("game_date", ascending=False).head(10)["game_date"].dt.strftime("%Y-%m-%d")
        assert pd.to_datetime(got["game_date"]).dt.strftime("%Y-%m-%d").tolist() == expected.tolist()
        if url.startswith("sqlite"):
            import sqlite3

            con = sqlite3.connect(f"{tmp_path}/serving.db")
            plan = " | ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql))
            con.close()
        else:
            with psycopg.connect(postgres_db["dsn"]) as con:
                con.execute("ANALYZE game_predictions")
                plan = " | ".join(r[0] for r in con.execute("EXPLAIN " + sql).fetchall())
        assert "ix_game_predictions_home_team_id_game_date" in plan, plan
        assert "ix_game_predictions_away_team_id_game_date" in plan, plan
        assert "SCAN game_predictions " not in plan + " " and "Seq Scan" not in plan, plan
