"""The ``mspilot`` command line. Each domain registers its own sub-app here."""

from __future__ import annotations

import typer

from mspilot.cli import (
    ask,
    db,
    demo,
    digest,
    jobs,
    kb,
    models,
    prescribe,
    serve,
    sources,
    sync,
    worker,
)

app = typer.Typer(
    name="mspilot",
    help="mspilot: an AI analyst for managed service providers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")
app.add_typer(digest.app, name="digest")
app.add_typer(kb.app, name="kb")
app.command("ask")(ask.ask)
app.command("chat")(ask.chat)
app.command("eval")(ask.eval_)
app.command("serve")(serve.serve)
app.command("price")(prescribe.price)
app.command("budget")(prescribe.budget)
app.command("train")(models.train)
app.command("evaluate")(models.evaluate)
app.add_typer(models.app, name="models")
app.add_typer(serve.users_app, name="users")
app.add_typer(sync.app)  # mspilot sync
app.add_typer(sources.app, name="sources")
app.add_typer(jobs.app, name="jobs")
app.command("worker")(worker.worker)
app.command("scheduler")(worker.scheduler)


def run() -> None:
    app()
