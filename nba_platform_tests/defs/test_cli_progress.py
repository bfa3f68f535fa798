"""The CLI's progress display: off a terminal, one ordered line per step event read back from the
instance, a summary with steps and checks; Dagster's DEBUG stream silenced unless --verbose."""

import dagster as dg

from nba_platform.cli.progress import QUIET_RUN_CONFIG, step_progress, summary_lines


@dg.asset
def first() -> int:
    return 1


@dg.asset
def second(first: int) -> int:
    return first + 1


@dg.asset_check(asset=second)
def second_is_two(second: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=second == 2)


@dg.asset_check(asset=first)
def first_is_two(first: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=first == 2)


def test_plain_lines_in_order_and_a_summary(instance, capsys):
    job = dg.Definitions(
        assets=[first, second], asset_checks=[second_is_two, first_is_two], jobs=[dg.define_asset_job("toy")]
    ).resolve_job_def("toy")
    tags = {"test/invocation": "one"}

    def find_run():
        found = instance.get_run_records(dg.RunsFilter(tags=tags), limit=1)
        return found[0].dagster_run.run_id if found else None

    total = len(job.nodes_in_topological_order)
    with step_progress(instance, find_run, total, "toy", interval=0.05) as tally:
        result = job.execute_in_process(instance=instance, tags=tags, run_config=QUIET_RUN_CONFIG)
    out = capsys.readouterr()
    assert result.success
    lines = [line for line in out.out.splitlines() if line.strip()]
    started = [line for line in lines if "started" in line]
    finished = [line for line in lines if "finished" in line]
    assert len(started) == len(finished) == total == tally.done
    assert finished[-1].endswith(f"[{total}/{total}]")
    assert lines.index(started[0]) < lines.index(finished[0])
    assert "DEBUG" not in out.out + out.err  # Dagster's console stream is quiet at ERROR

    [summary] = summary_lines(instance, result.run_id, "toy", result.success, 1.5, tally)
    assert summary.startswith(f"run {result.run_id}: SUCCESS in 1.5s (job toy; {total}/{total} steps")
    assert summary.endswith("checks 1 passed, 1 failed)")
