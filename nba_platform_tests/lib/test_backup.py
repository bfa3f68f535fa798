"""Backups, pure logic: dated keys, retention on real calendars, manifests and their diff, stats comparison."""

import datetime as dt
import hashlib

import pytest

from nba_platform.lib import backup as B

D = dt.date


def days(start: D, end: D) -> list[D]:
    return [start + dt.timedelta(n) for n in range((end - start).days + 1)]


# ---- keys


def test_dated_keys_round_trip_and_reject_other_keys():
    assert B.backup_key(D(2026, 11, 25), "serving.dump") == "daily/2026-11-25/serving.dump"
    assert B.parse_backup_key("daily/2026-11-25/serving.dump") == (D(2026, 11, 25), "serving.dump")
    for other in (
        "daily/2026-13-01/x",
        "weekly/2026-11-22/x",
        "daily/latest/x",
        "daily/2026-11-25",
        "x/daily/2026-11-25/y",
    ):
        assert B.parse_backup_key(other) is None, other


def test_backups_in_marks_complete_only_with_manifest():
    keys = [
        "daily/2026-11-24/serving.dump",
        "daily/2026-11-24/manifest.json",
        "daily/2026-11-25/serving.dump",
        "notes.txt",
    ]
    assert B.backups_in(keys) == {D(2026, 11, 24): True, D(2026, 11, 25): False}


# ---- retention


def test_default_retention_keeps_seven_daily_and_four_sundays():
    # Every day from 1 Oct to Wed 25 Nov 2026.
    complete = days(D(2026, 10, 1), D(2026, 11, 25))
    plan = B.plan_retention(complete)
    assert plan.keep_daily == tuple(days(D(2026, 11, 19), D(2026, 11, 25)))
    # The 4 most recent Sundays: 22 Nov is also a daily one; 1, 8, 15 Nov are kept only as weekly.
    assert plan.keep_weekly == (D(2026, 11, 1), D(2026, 11, 8), D(2026, 11, 15), D(2026, 11, 22))
    assert all(d.weekday() == 6 for d in plan.keep_weekly)
    assert plan.keep == (D(2026, 11, 1), D(2026, 11, 8), D(2026, 11, 15), *days(D(2026, 11, 19), D(2026, 11, 25)))
    assert len(plan.keep) == 10
    assert set(plan.delete) == set(complete) - set(plan.keep)
    assert D(2026, 10, 25) in plan.delete  # a Sunday, but the fifth most recent


def test_retention_counts_backups_not_calendar_days():
    # Backups stopped on 10 Nov; two weeks later nothing of the last good week is aged out.
    complete = days(D(2026, 10, 20), D(2026, 11, 10))
    plan = B.plan_retention(complete, protect=[D(2026, 11, 25)])
    assert plan.keep_daily == tuple(days(D(2026, 11, 4), D(2026, 11, 10)))
    assert plan.keep_weekly == (D(2026, 10, 25), D(2026, 11, 1), D(2026, 11, 8))  # only three Sundays exist
    assert D(2026, 10, 20) in plan.delete


def test_retention_is_configurable_and_idempotent():
    complete = days(D(2026, 10, 1), D(2026, 11, 25))
    policy = B.RetentionPolicy(keep_daily=3, keep_weekly=2, weekly_weekday=0)  # Mondays
    plan = B.plan_retention(complete, policy)
    assert plan.keep_daily == (D(2026, 11, 23), D(2026, 11, 24), D(2026, 11, 25))
    assert plan.keep_weekly == (D(2026, 11, 16), D(2026, 11, 23))
    again = B.plan_retention(plan.keep, policy)
    assert again.delete == () and again.keep == plan.keep
    no_weekly = B.plan_retention(complete, B.RetentionPolicy(keep_daily=7, keep_weekly=0))
    assert no_weekly.keep == tuple(days(D(2026, 11, 19), D(2026, 11, 25)))


def test_retention_of_incomplete_prefixes_and_protected_dates():
    complete = [D(2026, 11, 20), D(2026, 11, 22)]
    incomplete = [D(2026, 11, 10), D(2026, 11, 21), D(2026, 11, 23)]  # failed runs
    plan = B.plan_retention(complete, incomplete=incomplete, protect=[D(2026, 11, 23)])
    # Failed attempts older than the newest good backup go; the newest attempt stays for inspection.
    assert plan.delete == (D(2026, 11, 10), D(2026, 11, 21))
    assert plan.keep == (D(2026, 11, 20), D(2026, 11, 22))
    # Nothing complete yet: nothing at all is deleted.
    assert B.plan_retention([], incomplete=incomplete).delete == ()
    # A protected date survives even when the policy would drop it.
    assert (
        D(2026, 11, 1) not in B.plan_retention(days(D(2026, 11, 1), D(2026, 11, 25)), protect=[D(2026, 11, 1)]).delete
    )


def test_retention_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        B.RetentionPolicy(keep_daily=0)
    with pytest.raises(ValueError):
        B.RetentionPolicy(keep_weekly=-1)
    with pytest.raises(ValueError):
        B.RetentionPolicy(weekly_weekday=7)


# ---- lake manifest


def test_lake_manifest_round_trip_is_deterministic():
    objs = [B.LakeObject("tables/b.parquet", 20, etag="e2"), B.LakeObject("tables/a.parquet", 10, sha256="ab" * 32)]
    data = B.lake_manifest_bytes(objs)
    assert data == B.lake_manifest_bytes(list(reversed(objs)))  # sorted, gzip without a timestamp
    assert B.parse_lake_manifest(data) == sorted(objs, key=lambda o: o.path)
    assert B.parse_lake_manifest(B.lake_manifest_bytes([])) == []


def test_manifest_diff_added_removed_changed():
    old = [
        B.LakeObject("a", 1, sha256="x"),
        B.LakeObject("b", 2, sha256="y"),
        B.LakeObject("c", 3, etag="e"),
        B.LakeObject("d", 4, sha256="z"),
    ]
    new = [
        B.LakeObject("a", 1, sha256="x"),  # same
        B.LakeObject("b", 2, sha256="Y"),  # same size, new content
        B.LakeObject("c", 5, etag="e"),  # new size
        B.LakeObject("e", 1, etag="f"),
    ]  # added; d removed
    diff = B.diff_manifests(old, new)
    assert (diff.added, diff.removed, diff.changed) == (("e",), ("d",), ("b", "c"))
    assert not diff.empty
    assert B.diff_manifests(new, new).empty
    # No comparable digest (sha256 on one side, ETag on the other): reported as changed, never assumed equal.
    assert B.diff_manifests([B.LakeObject("a", 1, sha256="x")], [B.LakeObject("a", 1, etag="x")]).changed == ("a",)


# ---- backup manifest, stats, checksums


def test_backup_manifest_round_trip():
    art = B.Artifact(
        "serving",
        "postgres",
        "daily/2026-11-25/serving.dump",
        1234,
        "f" * 64,
        "postgresql://db:5432/nba",
        {"public.games": B.TableStats(3, "1:2"), "public.x": B.TableStats(0, "0:0")},
    )
    m = B.BackupManifest(
        D(2026, 11, 25),
        "2026-11-25T03:00:00+00:00",
        (art,),
        "daily/2026-11-25/lake_manifest.jsonl.gz",
        7,
        700,
        "a" * 64,
    )
    back = B.BackupManifest.from_json(m.to_json())
    assert back == m
    assert back.artifact("serving").rows == 3
    with pytest.raises(KeyError, match="holds no 'dagster'"):
        back.artifact("dagster")
    with pytest.raises(ValueError, match="format"):
        B.BackupManifest.from_json(b'{"format": 99}')


def test_compare_stats_reports_every_kind_of_difference():
    src = {"public.a": B.TableStats(3, "1:1"), "public.b": B.TableStats(2, "2:2"), "public.c": B.TableStats(1, "3:3")}
    assert B.compare_stats(src, dict(src)) == []
    restored = {
        "public.a": B.TableStats(2, "1:1"),
        "public.b": B.TableStats(2, "9:9"),
        "public.d": B.TableStats(0, "0:0"),
    }
    problems = B.compare_stats(src, restored)
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
        acc = B.add_row_digest(acc, r)
    acc2 = (0, 0)
    for r in reversed(rows):
        acc2 = B.add_row_digest(acc2, r)
    assert acc == acc2
    assert B.add_row_digest((0, 0), "(1,a)") != B.add_row_digest((0, 0), "(1,b)")
    # Same arithmetic as SQL: ('x' || substr(md5(t), 1, 16))::bit(64)::bigint (a signed 64-bit int).
    h = hashlib.md5(b"(1,a)").hexdigest()
    hi = int(h[:16], 16)
    assert B.add_row_digest((0, 0), "(1,a)")[0] == (hi - (1 << 64) if hi >= 1 << 63 else hi)


def test_sha256_file(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * 3_000_000)
    assert B.sha256_file(p, chunk=1 << 16) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
