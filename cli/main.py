"""The ``mspilot`` command line. Each domain registers its own sub-app here."""

from __future__ import annotations

import typer

from mspilot.cli import db, demo

app = typer.Typer(
    name="mspilot",
    help="mspilot: an AI analyst for managed service providers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")


def run() -> None:
    app()
