"""Publishing to the serving database: real Postgres (slices replaced by DELETE + COPY, upsert fallback) and the embedded SQLite."""

import pandas as pd
import psycopg
import pytest

from nba_platform.resources.secrets import Secrets
from nba_platform.resources.serving_db import ServingDatabase

pytestmark = pytest.mark.integration


def predictions(p=0.6, version="nba_game_outcome/v1"):
    return pd.DataFrame(
        {
            "game_id": ["0022300001", "0022300002"],
            "season": ["2023-24"] * 2,
            "game_date": pd.to_datetime(["2023-10-24", "2023-10-24"]),
            "home_team_id": [1610612743, 1610612744],
            "away_team_id": [1610612747, 1610612756],
            "p_home_win": [p, 0.4],
            "elo_p_home_win": [0.55, 0.45],
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
    db.publish("game_predictions", predictions(version="nba_game_outcome/v2"))  # another model version -> new rows
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
    assert [r[0] for r in pk] == ["game_id", "model_version"]
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
    assert len(old.columns) == 9
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
    """A republished season (games) or season + model version (predictions) holds exactly the new
    rows: a game it no longer has disappears; other seasons and other model versions are kept."""
    db = ServingDatabase(url=postgres_db["url"], secrets=Secrets(source="env"))
    db.publish("games", pd.concat([games(["a1", "a2", "a3"]), games(["b1"], season="2022-23")], ignore_index=True))
    db.publish("games", games(["a1", "a2"], pts=101))  # a3 dropped from 2023-24 since
    rows = db.query("SELECT game_id, season, home_pts FROM games ORDER BY game_id")
    assert rows.values.tolist() == [["a1", "2023-24", 101], ["a2", "2023-24", 101], ["b1", "2022-23", 100]]

    db.publish("game_predictions", predictions(version="v1"))
    db.publish("game_predictions", predictions(version="v2"))
    db.publish("game_predictions", predictions(p=0.8, version="v2").head(1))
    rows = db.query("SELECT game_id, model_version, p_home_win FROM game_predictions ORDER BY model_version, game_id")
    assert rows.values.tolist() == [["0022300001", "v1", 0.6], ["0022300002", "v1", 0.4], ["0022300001", "v2", 0.8]]


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
