"""Backups, pure logic: dated keys, retention on real calendars, manifests and their diff, stats comparison."""

import datetime as dt
import hashlib

import pytest

from nba_platform.lib import backup


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(n) for n in range((end - start).days + 1)]


# ---- keys


def test_dated_keys_round_trip_and_reject_other_keys():
    assert backup.backup_key(dt.date(2026, 11, 25), "serving.dump") == "daily/2026-11-25/serving.dump"
    assert backup.parse_backup_key("daily/2026-11-25/serving.dump") == (dt.date(2026, 11, 25), "serving.dump")
    for other in (
        "daily/2026-13-01/x",
        "weekly/2026-11-22/x",
        "daily/latest/x",
        "daily/2026-11-25",
        "x/daily/2026-11-25/y",
    ):
        assert backup.parse_backup_key(other) is None, other


def test_backups_in_marks_complete_only_with_manifest():
    keys = [
        "daily/2026-11-24/serving.dump",
        "daily/2026-11-24/manifest.json",
        "daily/2026-11-25/serving.dump",
        "notes.txt",
    ]
    assert backup.backups_in(keys) == {dt.date(2026, 11, 24): True, dt.date(2026, 11, 25): False}


# ---- retention


def test_default_retention_keeps_seven_daily_and_four_sundays():
    # Every day from 1 Oct to Wed 25 Nov 2026.
    complete = days(dt.date(2026, 10, 1), dt.date(2026, 11, 25))
    plan = backup.plan_retention(complete)
    assert plan.keep_daily == tuple(days(dt.date(2026, 11, 19), dt.date(2026, 11, 25)))
    # The 4 most recent Sundays: 22 Nov is also a daily one; 1, 8, 15 Nov are kept only as weekly.
    assert plan.keep_weekly == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 8),
        dt.date(2026, 11, 15),
        dt.date(2026, 11, 22),
    )
    assert all(d.weekday() == 6 for d in plan.keep_weekly)
    assert plan.keep == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 8),
        dt.date(2026, 11, 15),
        *days(dt.date(2026, 11, 19), dt.date(2026, 11, 25)),
    )
    assert len(plan.keep) == 10
    assert set(plan.delete) == set(complete) - set(plan.keep)
    assert dt.date(2026, 10, 25) in plan.delete  # a Sunday, but the fifth most recent


def test_retention_counts_backups_not_calendar_days():
    # Backups stopped on 10 Nov; two weeks later nothing of the last good week is aged out.
    complete = days(dt.date(2026, 10, 20), dt.date(2026, 11, 10))
    plan = backup.plan_retention(complete, protect=[dt.date(2026, 11, 25)])
    assert plan.keep_daily == tuple(days(dt.date(2026, 11, 4), dt.date(2026, 11, 10)))
    assert plan.keep_weekly == (
        dt.date(2026, 10, 25),
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 8),
    )  # only three Sundays exist
    assert dt.date(2026, 10, 20) in plan.delete


def test_retention_is_configurable_and_idempotent():
    complete = days(dt.date(2026, 10, 1), dt.date(2026, 11, 25))
    policy = backup.RetentionPolicy(keep_daily=3, keep_weekly=2, weekly_weekday=0)  # Mondays
    plan = backup.plan_retention(complete, policy)
    assert plan.keep_daily == (dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 25))
    assert plan.keep_weekly == (dt.date(2026, 11, 16), dt.date(2026, 11, 23))
    again = backup.plan_retention(plan.keep, policy)
    assert again.delete == () and again.keep == plan.keep
    no_weekly = backup.plan_retention(complete, backup.RetentionPolicy(keep_daily=7, keep_weekly=0))
    assert no_weekly.keep == tuple(days(dt.date(2026, 11, 19), dt.date(2026, 11, 25)))


def test_retention_of_incomplete_prefixes_and_protected_dates():
    complete = [dt.date(2026, 11, 20), dt.date(2026, 11, 22)]
    incomplete = [dt.date(2026, 11, 10), dt.date(2026, 11, 21), dt.date(2026, 11, 23)]  # failed runs
    plan = backup.plan_retention(complete, incomplete=incomplete, protect=[dt.date(2026, 11, 23)])
    # Failed attempts older than the newest good backup go; the newest attempt stays for inspection.
    assert plan.delete == (dt.date(2026, 11, 10), dt.date(2026, 11, 21))
    assert plan.keep == (dt.date(2026, 11, 20), dt.date(2026, 11, 22))
    # Nothing complete yet: nothing at all is deleted.
    assert backup.plan_retention([], incomplete=incomplete).delete == ()
    # A protected date survives even when the policy would drop it.
    assert (
        dt.date(2026, 11, 1)
        not in backup.plan_retention(
            days(dt.date(2026, 11, 1), dt.date(2026, 11, 25)), protect=[dt.date(2026, 11, 1)]
        ).delete
    )


def test_retention_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        backup.RetentionPolicy(keep_daily=0)
    with pytest.raises(ValueError):
        backup.RetentionPolicy(keep_weekly=-1)
    with pytest.raises(ValueError):
        backup.RetentionPolicy(weekly_weekday=7)


# ---- lake manifest


def test_lake_manifest_round_trip_is_deterministic():
    objs = [
        backup.LakeObject("tables/b.parquet", 20, etag="e2"),
        backup.LakeObject("tables/a.parquet", 10, sha256="ab" * 32),
    ]
    data = backup.lake_manifest_bytes(objs)
    assert data == backup.lake_manifest_bytes(list(reversed(objs)))  # sorted, gzip without a timestamp
    assert backup.parse_lake_manifest(data) == sorted(objs, key=lambda o: o.path)
    assert backup.parse_lake_manifest(backup.lake_manifest_bytes([])) == []


def test_manifest_diff_added_removed_changed():
    old = [
        backup.LakeObject("a", 1, sha256="x"),
        backup.LakeObject("b", 2, sha256="y"),
        backup.LakeObject("c", 3, etag="e"),
        backup.LakeObject("d", 4, sha256="z"),
    ]
    new = [
        backup.LakeObject("a", 1, sha256="x"),  # same
        backup.LakeObject("b", 2, sha256="Y"),  # same size, new content
        backup.LakeObject("c", 5, etag="e"),  # new size
        backup.LakeObject("e", 1, etag="f"),
    ]  # added; d removed
    diff = backup.diff_manifests(old, new)
    assert (diff.added, diff.removed, diff.changed) == (("e",), ("d",), ("b", "c"))
    assert not diff.empty
    assert backup.diff_manifests(new, new).empty
    # No comparable digest (sha256 on one side, ETag on the other): reported as changed, never assumed equal.
    assert backup.diff_manifests(
        [backup.LakeObject("a", 1, sha256="x")], [backup.LakeObject("a", 1, etag="x")]
    ).changed == ("a",)


# ---- backup manifest, stats, checksums


def test_backup_manifest_round_trip():
    art = backup.Artifact(
        "serving",
        "postgres",
        "daily/2026-11-25/serving.dump",
        1234,
        "f" * 64,
        "postgresql://db:5432/nba",
        {"public.games": backup.TableStats(3, "1:2"), "public.x": backup.TableStats(0, "0:0")},
    )
    m = backup.BackupManifest(
        dt.date(2026, 11, 25),
        "2026-11-25T03:00:00+00:00",
        (art,),
        "daily/2026-11-25/lake_manifest.jsonl.gz",
        7,
        700,
        "a" * 64,
    )
    back = backup.BackupManifest.from_json(m.to_json())
    assert back == m
    assert back.artifact("serving").rows == 3
    with pytest.raises(KeyError, match="holds no 'dagster'"):
        back.artifact("dagster")
    with pytest.raises(ValueError, match="format"):
        backup.BackupManifest.from_json(b'{"format": 99}')


def test_compare_stats_reports_every_kind_of_difference():
    src = {
        "public.a": backup.TableStats(3, "1:1"),
        "public.b": backup.TableStats(2, "2:2"),
        "public.c": backup.TableStats(1, "3:3"),
    }
    assert backup.compare_stats(src, dict(src)) == []
    restored = {
        "public.a": backup.TableStats(2, "1:1"),
        "public.b": backup.TableStats(2, "9:9"),
        "public.d": backup.TableStats(0, "0:0"),
    }
    problems = backup.compare_stats(src, restored)
    assert problems == [
        "public.c: missing from the restored copy (source has 1 rows)",
        "public.d: in the restored copy but not in the source",
        "public.a: 2 rows restored, source has 3",
        "public.b: row checksum differs (9:9 restored, 2:2 in the source)",
    ]


def test_row_digest_is_order_independent_and_matches_postgres_definition():
    rows = ["(1,a)", "(2,b)", "(3,c)"]
    acc = (0, 0)
    for r in rows:
        acc = backup.add_row_digest(acc, r)
    acc2 = (0, 0)
    for r in reversed(rows):
        acc2 = backup.add_row_digest(acc2, r)
    assert acc == acc2
    assert backup.add_row_digest((0, 0), "(1,a)") != backup.add_row_digest((0, 0), "(1,b)")
    # Same arithmetic as SQL: ('x' || substr(md5(t), 1, 16))::bit(64)::bigint (a signed 64-bit int).
    h = hashlib.md5(b"(1,a)").hexdigest()
    hi = int(h[:16], 16)
    assert backup.add_row_digest((0, 0), "(1,a)")[0] == (hi - (1 << 64) if hi >= 1 << 63 else hi)


def test_sha256_file(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * 3_000_000)
    assert backup.sha256_file(p, chunk=1 << 16) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
