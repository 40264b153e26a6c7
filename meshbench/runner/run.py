"""Run a scenario: plan -> platform -> load -> results, one trial at a time.

Every finished trial is written before the next starts (trials.csv is rewritten
atomically), so an interrupted run loses at most the trial in progress and can be
finished with ``meshbench run --resume RUN_DIR``.
"""

from __future__ import annotations

import errno
import io
import math
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from meshbench.config.scenario import Scenario, load_scenario, parse_scenario
from meshbench.errors import (
    STORAGE_ERRNOS,
    DeploymentBroken,
    MeshbenchError,
    PlatformError,
    ReadFailed,
    StorageError,
    one_line,
    storage_error,
    translated,
)
from meshbench.host import activity, interrupts
from meshbench.load.spec import HLOG_FILE, LoadSummary
from meshbench.load.validity import load_reasons
from meshbench.planning.plan import (
    Trial,
    confirm_limits,
    estimate,
    plan_problems,
    plan_trials,
    refuse_problems,
)
from meshbench.planning.windows import deploy_rank, in_windows, window_key, window_of
from meshbench.platforms import platform_class
from meshbench.platforms.base import Deployment, Platform, UsageSnapshot
from meshbench.results import hlog, locks, rundir
from meshbench.results.store import (
    HISTOGRAMS,
    TRIALS,
    read_run_json,
    utc_now,
    write_json,
    write_trials,
)
from meshbench.results.trial_record import TrialRecord
from meshbench.runner.start import check_same_scenario, start_run, with_stored_pinning

console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
SEVERITY_LABELS = {"refuse": "refused", "estimate": "refused unless --yes", "warn": "warning"}
PROOF = "proof"
LOGS = "logs"


def execution_order(trials: list[Trial], platform: Platform | type[Platform]) -> list[Trial]:
    """Trials in the order they will run: as planned, in install windows where one mesh
    runs at a time beside the baseline (:func:`~meshbench.planning.windows.in_windows`), or grouped
    by deployment when deployments conflict; the plan's order is kept inside a group."""
    if platform.concurrent_meshes:
        return trials
    if platform.baseline_beside_each_mesh:
        return in_windows(trials)
    keys = list(dict.fromkeys(t.deployment_key for t in trials))
    ordered = [t for k in keys for t in trials if t.deployment_key == k]
    return [replace(t, order=i + 1) for i, t in enumerate(ordered)]


USAGE_COLUMNS = ("sidecar_cpu", "service_cpu", "sidecar_rss_mib", "service_rss_mib")


def _usage_row(before: UsageSnapshot, after: UsageSnapshot) -> dict[str, Any]:
    # "sidecar" columns: the mesh's data-plane proxies, sidecars or node proxies ("proxy":
    # ztunnel and waypoints of istio-ambient). A snapshot that could not be read
    # (taken_at_s NaN, :func:`_read_usage`) leaves every figure NaN, never 0.
    if math.isnan(before.taken_at_s) or math.isnan(after.taken_at_s):
        return dict.fromkeys(USAGE_COLUMNS, math.nan)

    def mib(role: str) -> float:
        return sum(v for k, v in after.rss_bytes.items() if k.endswith("/" + role)) / 2**20

    return {
        "sidecar_cpu": round(
            after.cores_since(before, "sidecar") + after.cores_since(before, "proxy"), 4
        ),
        "service_cpu": round(after.cores_since(before, "app"), 4),
        "sidecar_rss_mib": round(mib("sidecar") + mib("proxy"), 2),
        "service_rss_mib": round(mib("app"), 2),
    }


READ_ERRORS = (OSError, ReadFailed)
"""What a failed read of a running deployment raises: OSError locally (a sidecar's admin
port that stopped answering), ReadFailed on kind (a Kubernetes API call). Before a trial
it means the deployment is broken (redeploy); during one, the trial is invalid with it."""


def _read_usage(dep: Deployment, when: str, unreadable: list[str]) -> UsageSnapshot:
    """``dep.usage()``, or an empty snapshot saying why, with the cause in ``unreadable``."""
    try:
        return dep.usage()
    except READ_ERRORS as e:
        unreadable.append(f"container usage unreadable {when} the trial ({e})")
        return UsageSnapshot(taken_at_s=math.nan, note=f"unreadable: {e}")


MAX_REDEPLOYS = 3
"""Deployments found broken between trials are redeployed at most this many times a run;
the next breakage fails the run with its cause (a crash loop is not a measurement)."""


def validity(
    scenario: Scenario,
    trial: Trial,
    s: LoadSummary,
    lag_p99_ms: float,
    accounting: list[str],
    unreadable: list[str] | None = None,
) -> list[str]:
    """Reasons this trial must not be reported (empty: valid); ``unreadable``: reads of
    the deployment that failed during the trial."""
    reasons = load_reasons(scenario.validity, trial.rate_rps, s, lag_p99_ms)
    reasons.extend(f"sidecar accounting: {a}" for a in accounting)
    reasons.extend(unreadable or [])
    return reasons


def _host_row(scenario: Scenario, load: activity.HostLoad) -> dict[str, Any]:
    v = scenario.validity
    # flagged on the values recorded, so a value stored at its limit is never flagged
    # (and one stored beyond it always is), whatever digits rounding dropped
    recorded = replace(
        load, steal_pct=round(load.steal_pct, 2), foreign_cpu=round(load.foreign_cpu, 3)
    )
    return {
        "host_steal_pct": recorded.steal_pct,
        "host_busy_pct": round(load.busy_pct, 1),
        "host_foreign_cpu": recorded.foreign_cpu,
        "host_cpu_mhz": round(load.cpu_mhz) if math.isfinite(load.cpu_mhz) else math.nan,
        "host_flag": recorded.note(v.flag_steal_pct, v.flag_foreign_cpu),
    }


def run_trial(
    scenario: Scenario, dep: Deployment, trial: Trial, run_dir: Path, cpus: list[int] | None = None
) -> TrialRecord:
    """Measure one trial and store its files; returns its trials.csv record. ``cpus``: the
    CPUs the trial is pinned to, whose steal and load are recorded (default: all)."""
    trial_rel = Path(TRIALS, trial.trial_id)
    rundir.remove(run_dir, trial_rel)  # leftovers of an interrupted attempt: not a result yet
    trial_dir = rundir.make_dir(run_dir, trial_rel)  # no link on the way: the generator
    request = trial.load_request(scenario, dep.target_url())
    host_before = activity.sample()
    try:
        stats_before = dep.sidecar_stats()
    except READ_ERRORS as e:
        raise DeploymentBroken(
            f"the sidecars of {trial.mesh} stopped answering before {trial.trial_id}: {e}",
            fix="see the sidecar logs under RUN/logs; the deployment is broken",
        ) from None
    unreadable: list[str] = []
    usage_before = _read_usage(dep, "before", unreadable)
    summary = dep.run_load(request, trial_dir)
    usage_after = _read_usage(dep, "after", unreadable)
    usage_before, usage_after = dep.measured_usage() or (usage_before, usage_after)
    stats_after: dict[str, dict[str, int]] | None = None
    try:
        read_after = dep.sidecar_stats()
        stats_after = read_after
        accounting = dep.check_accounting(stats_before, read_after, summary.sent)
    except READ_ERRORS as e:  # a sidecar died during the trial: the trial is data, not a crash
        accounting = [
            f"sidecar counters unreadable after the trial ({e}): a sidecar died "
            "or stopped answering during it"
        ]
    host_load = activity.load_between(host_before, activity.sample(), cpus or [])
    host_json = {**host_load.__dict__, "cpus": cpus or "all"}
    write_json(trial_dir / "host.json", host_json, root=run_dir)
    stats = {"before": stats_before, "after": stats_after}
    write_json(trial_dir / "sidecar_stats.json", stats, root=run_dir)
    usage = {"before": usage_before.__dict__, "after": usage_after.__dict__}
    write_json(trial_dir / "usage.json", usage, root=run_dir)

    hist_rel = f"{HISTOGRAMS}/{trial.trial_id}.hlog"
    rundir.move(run_dir, trial_rel / HLOG_FILE, hist_rel)
    hists = hlog.read_logs(io.StringIO(rundir.read_text(run_dir, hist_rel)))
    lat = hlog.percentiles_ms(hists["latency"], (50, 90, 99, 99.9, 100))
    svc = hlog.percentiles_ms(hists["service"], (50, 99))
    lag = hlog.percentiles_ms(hists["send_lag"], (50, 99, 100))
    reasons = validity(scenario, trial, summary, lag[99], accounting, unreadable)
    h = hists["latency"]
    mean = h.get_mean_value() / 1000.0 if h.get_total_count() else float("nan")
    return TrialRecord(
        **trial.record_keys(),
        valid=not reasons,
        invalid_reason="; ".join(reasons),
        requests=summary.requests,
        errors=summary.errors,
        warmup_requests=summary.warmup_requests,
        duration_s=summary.duration_s,
        achieved_rps=summary.achieved_rps,
        p50_ms=lat[50],
        p90_ms=lat[90],
        p99_ms=lat[99],
        p999_ms=lat[99.9],
        max_ms=lat[100],
        mean_ms=mean,
        service_p50_ms=svc[50],
        service_p99_ms=svc[99],
        send_lag_p50_ms=lag[50],
        send_lag_p99_ms=lag[99],
        send_lag_max_ms=lag[100],
        generator_cpu=summary.generator_cpu,
        generator_rss_mib=summary.generator_rss_mib,
        **_usage_row(usage_before, usage_after),
        **_host_row(scenario, host_load),
        started_utc=summary.started_utc,
        histogram=hist_rel,
    )


def run_scenario(
    scenario_path: Path,
    results_root: Path = Path("results"),
    platform_name: str | None = None,
    resume: Path | None = None,
    dry_run: bool = False,
    confirmed: bool = False,
) -> Path | None:
    """Run every trial of a scenario; returns the run directory (None for a dry run)."""
    if resume is not None:
        scenario = parse_scenario(read_run_json(resume)["scenario"], str(resume / "run.json"))
        check_same_scenario(scenario, scenario_path, resume, platform_name)
    else:
        scenario = load_scenario(scenario_path)
    if platform_name and platform_name != scenario.platform:
        data = scenario.model_dump(mode="json")
        data["platform"] = platform_name
        scenario = parse_scenario(data, f"{scenario_path} (with --platform {platform_name})")
    trials = plan_trials(scenario)
    platform_cls = platform_class(scenario.platform)
    # the trials that will run: on kind the baseline's run again in every mesh's window
    planned = execution_order(trials, platform_cls)
    problems = [
        *plan_problems(scenario, trials),
        *platform_cls.capacity_problems(scenario, planned),
    ]
    if dry_run:
        print(platform_cls.plan(scenario, trials))
        for problem in problems:
            print(f"{SEVERITY_LABELS[problem.severity]}: {problem}")
        refuse_problems(problems, confirmed)
        return None
    refuse_problems(problems, confirmed)
    for problem in problems:
        console.print(f"[yellow]warning: {problem}[/]")
    confirm_limits(estimate(scenario, planned), confirmed, f"scenario {scenario.name!r}")

    platform_cls.check_scenario(scenario)
    with interrupts.guarded(), ExitStack() as stack:  # the handler outlives the cleanup
        host_holder = stack.enter_context(locks.host(resume)) if platform_cls.shares_host else None
        if resume is not None:  # before reading which trials are pending
            stack.enter_context(locks.run_directory(resume))
        run_dir, meta, rows = start_run(scenario, scenario_path, results_root, resume)
        started = resume is not None  # a new run directory counts once run.json is written
        if resume is None:  # a start that fails before that leaves no directory behind

            def discard() -> None:
                if not started:
                    rundir.remove(run_dir.parent, run_dir.name)

            stack.push(_cleanup("removing the run directory of the failed start", discard))
            stack.enter_context(locks.run_directory(run_dir))
            if host_holder is not None:  # now the other run can be told which one
                host_holder(locks.describe(run_dir))
        done = {r.trial_id for r in rows}
        if resume is not None:  # finish on the CPUs the run started on, not a new choice
            scenario = with_stored_pinning(scenario, meta.get("pinning") or {})
        platform = platform_cls(scenario)
        platform.logs_dest = run_dir / "logs"
        stack.push(_cleanup("closing the platform", platform.close))
        stack.push(_cleanup("keeping the logs", lambda: platform.collect_logs(run_dir / "logs")))
        ordered = execution_order(trials, platform)
        env = platform.environment()
        meta.update(
            platform=env.to_json(),
            pinning=env.pinning.to_json() if env.pinning is not None else {},
            plan=[t.to_dict() for t in ordered],
            status="running",
        )
        meta.setdefault("versions", {}).update(env.versions)
        write_json(run_dir / "run.json", meta, root=run_dir)
        started = True
        console.print(
            f"[bold]meshbench[/] {scenario.name}: {len(ordered)} trials "
            f"({len(done)} already done) on {platform.name} -> {run_dir}; "
            f"estimate: {estimate(scenario, [t for t in ordered if t.trial_id not in done])}"
        )
        if env.pinning is not None and env.pinning.chosen_by:
            console.print(f"CPUs: {env.pinning.describe()}")
        for warning in env.host_warnings:
            console.print(f"[yellow]host: {warning}[/]")
        try:
            cpus = env.pinning.cpus() if env.pinning is not None else []

            def redeployed(event: dict[str, Any]) -> None:
                meta.setdefault("redeployments", []).append(event)
                write_json(run_dir / "run.json", meta, root=run_dir)

            _run_trials(scenario, platform, ordered, done, rows, run_dir, cpus, redeployed)
        except KeyboardInterrupt as e:
            meta.update(status="interrupted", finished_utc=utc_now())
            _record(run_dir, meta, e)
            console.print(
                f"interrupted: {len(rows)} trial(s) kept; finish with "
                f"`meshbench run --resume {run_dir} {scenario_path}`"
            )
            raise
        except Exception as e:  # a user-fixable error or a bug: never left "running"
            err = _explained(e, run_dir, scenario_path)
            meta.update(status="failed", finished_utc=utc_now(), error=str(err))
            _record(run_dir, meta, err)
            if err is e:
                raise
            raise err from None
        meta.pop("error", None)  # an earlier attempt's, kept in "resumes"
        meta.update(status="complete", finished_utc=utc_now())
        write_json(run_dir / "run.json", meta, root=run_dir)
    return run_dir


ExitCallback = Callable[
    [type[BaseException] | None, BaseException | None, TracebackType | None], bool
]


def _cleanup(what: str, step: Callable[[], None]) -> ExitCallback:
    """An exit callback running ``step``: when the block failed, an error of ``step`` is
    added to that first error as a note (``one_line`` prints it after it), never put in
    its place; when the block did not fail, it is raised."""

    def on_exit(
        _type: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> bool:
        try:
            step()
        except Exception as e:
            if exc is None:
                raise
            exc.add_note(f"{what} failed too: {one_line(e)}")
        return False

    return on_exit


def _record(run_dir: Path, meta: dict[str, Any], error: BaseException) -> None:
    """Write run.json as the run ends on ``error``; a failure to write it (a full or
    read-only disk) is added to that error, not raised in its place."""
    try:
        write_json(run_dir / "run.json", meta, root=run_dir)
    except Exception as e:
        error.add_note(f"recording status {meta.get('status')!r} in run.json failed too: {e}")


FULL_BELOW_BYTES = 1 << 20
"""A filesystem with less free space than this (MiB) counts as full when a run fails:
the failure (a generator that could not write its log, say) is reported as a full disk."""


def disk_full(path: Path) -> bool:
    """Whether the filesystem of ``path`` has (almost) no space left for this user."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    free = st.f_bfree if os.geteuid() == 0 else st.f_bavail  # root may use the reserve
    return free * st.f_frsize < FULL_BELOW_BYTES


def _explained(e: BaseException, run_dir: Path, scenario_path: Path) -> BaseException:
    """``e`` as a started run reports it: a full, read-only or forbidden disk as a
    :class:`StorageError` naming the file (the run directory when the error names none),
    any failure while the run's disk is full as that full disk, and for either how to
    finish the run once it is fixed. Anything else is returned as it is."""
    if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS and e.filename is None:
        e = storage_error(e, run_dir, "write")
    e = translated(e)
    if not isinstance(e, StorageError):
        if not disk_full(run_dir):
            return e
        full = storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), run_dir, "write")
        what = e.message if isinstance(e, MeshbenchError) else str(e)
        e = StorageError(f"{what}; the filesystem of {run_dir} is full", fix=full.fix)
    out = StorageError(
        e.message,
        fix=f"{e.fix}; then finish the run with `meshbench run --resume {run_dir} "
        f"{scenario_path}` (the trials stored so far are kept)",
    )
    out.__notes__ = list(getattr(e, "__notes__", []))
    return out


def _run_trials(
    scenario: Scenario,
    platform: Platform,
    ordered: list[Trial],
    done: set[str],
    rows: list[TrialRecord],
    run_dir: Path,
    cpus: list[int],
    on_redeploy: Callable[[dict[str, Any]], None] = lambda _event: None,
) -> None:
    pending = [t for t in ordered if t.trial_id not in done]
    redeploys = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress, ExitStack() as stack:
        task = progress.add_task("deploying", total=len(ordered), completed=len(done))
        deployments: dict[tuple[object, ...], Deployment] = {}
        live_group: tuple[object, ...] = (0, ())
        # names already given in this run directory (an earlier attempt's, on a resume):
        # a deployment's proof and logs never go where another's are
        used = {n.removesuffix(".json") for n in rundir.list_names(run_dir, PROOF)}
        used |= set(rundir.list_names(run_dir, LOGS))

        def unique(base: str) -> str:
            name, n = base, 0
            while name in used:
                n += 1
                name = f"{base}-redeploy{n}"
            used.add(name)
            return name

        def group(trial: Trial) -> tuple[object, ...]:
            """Deployments that live together: a fresh-deployment group, in one window."""
            return (trial.deployment, window_key(trial))

        def side_by_side(trial: Trial) -> bool:
            return platform.concurrent_meshes or bool(window_of(trial))

        def deployment(trial: Trial) -> Deployment:
            nonlocal live_group
            key = trial.deployment_key
            if key not in deployments:
                # one mesh at a time, or the next group or window: remove the old
                if not side_by_side(trial) or group(trial) != live_group:
                    stack.close()
                    deployments.clear()
                live_group = group(trial)
                window = window_of(trial)  # a baseline's proof per window it ran in
                name = unique(
                    trial.deployment_name
                    + (f"-in-{window}" if window and window != trial.mesh else "")
                )
                progress.update(task, description=f"deploying {name}")
                topology = trial.topology(scenario)
                dep = stack.enter_context(
                    platform.deploy(
                        trial.mesh, topology, trial.mtls, name=name, capture=trial.capture == "on"
                    )
                )
                proof = dep.verify()
                write_json(run_dir / PROOF / f"{name}.json", proof.__dict__, root=run_dir)
                deployments[key] = dep
            return deployments[key]

        def deploy_group(trial: Trial) -> None:
            """Deploy a whole group (or window) first: its trials then interleave freely.
            The mesh before the baseline arms, so a baseline is proven unmeshed beside it."""
            arms = {t.deployment_key: t for t in pending if group(t) == group(trial)}
            for first in sorted(arms.values(), key=lambda t: deploy_rank(t.mesh)):
                deployment(first)

        for trial in pending:
            while True:  # never measure a broken deployment: redeploy it, then retry
                if side_by_side(trial) and (group(trial) != live_group or not deployments):
                    deploy_group(trial)  # a new group, or the same one after a redeploy
                dep = deployment(trial)
                trouble = dep.problems()  # a pod that died since the last trial
                if not trouble:
                    progress.update(task, description=f"{trial.trial_id} ({trial.rate_rps:g} rps)")
                    try:
                        row = run_trial(scenario, dep, trial, run_dir, cpus)
                        break
                    except DeploymentBroken as e:  # it died just now, before any load
                        trouble = [e.message]
                redeploys += 1
                if redeploys > MAX_REDEPLOYS:
                    raise PlatformError(
                        f"deployments broke again before {trial.trial_id} after "
                        f"{MAX_REDEPLOYS} redeployments: {'; '.join(trouble)}",
                        fix="see the logs named above; finish with `meshbench run --resume`",
                    )
                on_redeploy({"before_trial": trial.trial_id, "problems": trouble, "utc": utc_now()})
                progress.console.print(
                    f"[yellow]{'; '.join(trouble)}: redeploying before {trial.trial_id}[/]"
                )
                stack.close()  # every arm of the group, so they stay alike
                deployments.clear()
            rows.append(row)
            write_trials(run_dir, rows)
            progress.advance(task)
            flag = "" if row.valid else f"  [red]INVALID: {row.invalid_reason}[/]"
            progress.console.print(
                f"{trial.trial_id}: p50 {row.p50_ms:.3f} ms  p99 {row.p99_ms:.3f} ms  "
                f"p99.9 {row.p999_ms:.3f} ms  {row.achieved_rps:.0f} rps  "
                f"errors {row.errors}{flag}"
            )


if __name__ == "__main__":
    sys.exit("use the meshbench command")
