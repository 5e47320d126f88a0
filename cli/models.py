"""``mspilot train``, ``mspilot evaluate`` and ``mspilot models list|promote|rollback|drift``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mspilot.cli.context import (
    console,
    emit_json,
    friendly_errors,
    print_table,
    progress_bar,
    settings,
)
from mspilot.cli.deps import TenantOption, tenant_scope
from mspilot.core.clock import Clock
from mspilot.core.errors import DataError, UserInputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="Registered models: versions, champion, rollback, drift.", no_args_is_help=True
)

TenantOpt = TenantOption
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
#: Steps ``train_all`` reports, for the progress bar's length.
_STEPS = {"churn": 3, "profitability": 1, "leaks": 1, "anomalies": 1, "forecast": 6}


def _setup(tenant: str | None) -> tuple[Engine, str, Clock]:
    scope = tenant_scope(tenant)
    return scope.engine, scope.tenant_id, scope.clock


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


@friendly_errors
def train(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="churn, profitability, leaks, anomalies or forecast (repeatable; default all).",
        ),
    ] = None,
    tenant: TenantOpt = None,
    no_mlflow: Annotated[
        bool, typer.Option("--no-mlflow", help="Skip the MLflow tracking mirror.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train, backtest and register every model (or the ones named) for a tenant."""
    from mspilot.models.training import MODEL_KINDS, train_all

    kinds = list(model or MODEL_KINDS)
    unknown = sorted(set(kinds) - set(MODEL_KINDS))
    if unknown:
        raise UserInputError(f"unknown model(s) {unknown}; choose from {', '.join(MODEL_KINDS)}")
    engine, tenant_id, clock = _setup(tenant)
    s = settings()
    s.ensure_data_dir()
    total = 2 + sum(_STEPS[k] for k in kinds)
    with progress_bar(enabled=not as_json) as progress:
        task = progress.add_task("training", total=total)

        def step(name: str) -> None:
            progress.update(task, description=name, advance=1)

        report = train_all(
            engine, tenant_id, s.data_dir, clock, kinds=kinds, on_step=step, mlflow=not no_mlflow
        )
        progress.update(task, completed=total, description="done")
    payload = report.as_dict()
    if as_json:
        emit_json(payload)
        return
    rows = []
    for kind in kinds:
        version = report.versions.get(kind)
        metrics = report.metrics.get(kind, {})
        key = {"churn": "auc", "profitability": "mae", "forecast": "mase"}.get(kind, "")
        rows.append(
            [
                kind,
                f"v{version.version} {version.status}" if version else "(rules)",
                f"{key} {_fmt(metrics.get(key))}" if key else f"{len(metrics)} figures",
                f"{report.timings.get(kind, 0.0):.1f}s",
                version.reason if version else "",
            ]
        )
    print_table(
        f"Trained for {tenant_id} as of {report.as_of} (features {report.feature_set_version})",
        ["model", "version", "backtest", "time", "registry"],
        rows,
    )
    flagged = [d["feature"] for d in report.drift if d["flagged"]]
    if flagged:
        console.print(f"[yellow]drift flagged:[/] {', '.join(flagged)}")
    console.print(f"total {report.timings.get('total', 0.0):.1f}s")


@friendly_errors
def evaluate(tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """Each model vs its baseline vs the oracle from the demo's ground truth."""
    from mspilot.models.evaluation import evaluate as run_evaluation
    from mspilot.synthetic import truth as truth_files

    engine, tenant_id, _clock = _setup(tenant)
    s = settings()
    try:
        truth = truth_files.read(s.ground_truth_dir, tenant_id)
    except FileNotFoundError:
        raise DataError(
            f"no ground truth for tenant {tenant_id!r} under {s.ground_truth_dir}: only the "
            "demo MSP has one (`mspilot demo load`)"
        ) from None
    report = run_evaluation(engine, tenant_id, s.data_dir, truth)
    if not report.rows:
        raise DataError(f"nothing to evaluate for {tenant_id}: run `mspilot train` first")
    if as_json:
        emit_json({"tenant_id": tenant_id, "rows": [r.as_dict() for r in report.rows]})
        return
    print_table(
        f"Evaluation of {tenant_id} against ground truth",
        ["#", "model", "metric", "value", "baseline", "oracle", "target", "pass"],
        [
            [
                str(i),
                r.model,
                r.metric,
                _fmt(r.value),
                _fmt(r.baseline),
                _fmt(r.oracle),
                r.target,
                "-" if r.passed is None else ("yes" if r.passed else "NO"),
            ]
            for i, r in enumerate(report.rows, 1)
        ],
    )
    for i, r in enumerate(report.rows, 1):
        if r.note:
            console.print(f"[dim]{i}.[/] {r.note}", highlight=False)


def _registry(tenant: str | None) -> tuple[str, Any]:
    from mspilot.models.registry import Registry

    _engine, tenant_id, _clock = _setup(tenant)
    return tenant_id, Registry(settings().data_dir, tenant_id)


@app.command("list")
@friendly_errors
def list_(
    kind: Annotated[str | None, typer.Option("--kind", help="Only this model kind.")] = None,
    tenant: TenantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every registered version with its backtest metric and status."""
    tenant_id, registry = _registry(tenant)
    versions = registry.versions(kind)
    if as_json:
        emit_json([v.__dict__ for v in versions])
        return
    if not versions:
        console.print(f"no models registered for {tenant_id}: run `mspilot train`")
        return
    print_table(
        f"Models of {tenant_id}",
        ["kind", "version", "status", "metric", "features", "window", "created", "reason"],
        [
            [
                v.kind,
                v.version,
                v.status,
                f"{v.primary_metric} {_fmt(v.score)}" if v.primary_metric else "-",
                v.feature_set_version or "-",
                " to ".join(v.data_window),
                v.created_at,
                v.reason,
            ]
            for v in versions
        ],
    )


@app.command()
@friendly_errors
def promote(
    kind: Annotated[str, typer.Argument(help="Model kind, e.g. churn.")],
    version: Annotated[int, typer.Argument(help="Version number to serve.")],
    tenant: TenantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a version the champion (by hand, no metric check)."""
    tenant_id, registry = _registry(tenant)
    champ = registry.promote(kind, version)
    if as_json:
        emit_json(champ.__dict__)
        return
    console.print(f"{tenant_id}: {kind} v{champ.version} is now the champion")


@app.command()
@friendly_errors
def rollback(
    kind: Annotated[str, typer.Argument(help="Model kind, e.g. churn.")],
    tenant: TenantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Serve the previous champion again."""
    tenant_id, registry = _registry(tenant)
    champ = registry.rollback(kind)
    if as_json:
        emit_json(champ.__dict__)
        return
    console.print(f"{tenant_id}: rolled back; {kind} v{champ.version} is the champion again")


@app.command()
@friendly_errors
def drift(
    tenant: TenantOpt = None,
    threshold: Annotated[float, typer.Option(help="Flag PSI above this.")] = 0.25,
    as_json: JsonOpt = False,
) -> None:
    """Population-stability index per feature: the champion churn model's training window
    vs the clients as they are now."""
    from mspilot.models.drift import drift_report
    from mspilot.models.features import MODEL_FEATURES, build_features
    from mspilot.models.serving import load_champion

    engine, tenant_id, clock = _setup(tenant)
    model, version = load_champion(settings().data_dir, tenant_id, "churn")
    reference = model.meta.get("reference")
    if reference is None:
        raise DataError("this churn model was trained without a reference sample: retrain")
    current = build_features(engine, tenant_id, clock.today())
    rows = [r.as_dict() for r in drift_report(reference, current, MODEL_FEATURES, threshold)]
    if as_json:
        emit_json({"tenant_id": tenant_id, "model_version": version, "features": rows})
        return
    print_table(
        f"Drift of {tenant_id} vs churn v{version} training window",
        ["feature", "PSI", "flagged"],
        [[r["feature"], f"{r['psi']:.3f}", "yes" if r["flagged"] else ""] for r in rows],
    )
