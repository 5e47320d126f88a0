"""A generated tenant loads through the product's loader on SQLite and PostgreSQL, clean."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from mspilot.cli.demo import load_demo_tenant
from mspilot.db.loader import Loader
from mspilot.db.schema import TABLES_BY_NAME, DataQualityIssue
from mspilot.synthetic.config import DemoConfig
from mspilot.synthetic.generator import SOURCE, generate_tenant


def test_small_demo_loads_with_zero_quality_issues_and_reloads_unchanged(engine: Engine) -> None:
    data = generate_tenant(DemoConfig(seed=3, n_clients=20, years=1), 0)
    spec = data.tenant
    report = load_demo_tenant(engine, spec, data.tables)
    assert report.issues == []
    for table, rows in data.tables.items():
        assert report.tables[table].inserted == len(rows), table
        assert report.tables[table].rejected == 0
    with engine.connect() as conn:
        for table, rows in data.tables.items():
            model = TABLES_BY_NAME[table]
            stored = conn.scalar(
                select(func.count()).select_from(model).where(model.tenant_id == spec.id)
            )
            assert stored == len(rows), table
        assert conn.scalar(select(func.count()).select_from(DataQualityIssue)) == 0

    again = Loader(engine, spec.id, SOURCE).load_all(data.tables)
    assert again.issues == []
    assert all(r.unchanged == r.received for r in again.tables.values())
