"""What the golden checkers compute expected answers from: the tenant's rows, read once into
pandas frames and re-derived here independently of the metrics layer and the SQL tool."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from mspilot.core.clock import add_months, month_start
from mspilot.core.periods import Period
from mspilot.db.schema import TABLES_BY_NAME, Tenant


def _period_mask(dates: pd.Series, period: Period) -> pd.Series:
    return (dates >= pd.Timestamp(period.start)) & (dates < pd.Timestamp(period.end))


@dataclass
class GoldenEnv:
    engine: Engine
    tenant_id: str
    today: dt.date
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: where the tenant's trained models live (default: the configured data directory)
    data_dir: Path | None = None

    @classmethod
    def load(
        cls, engine: Engine, tenant_id: str, today: dt.date, data_dir: Path | None = None
    ) -> GoldenEnv:
        env = cls(engine, tenant_id, today, data_dir=data_dir)
        with engine.connect() as conn:
            for name, model in TABLES_BY_NAME.items():
                stmt = select(model.__table__).where(
                    model.tenant_id == tenant_id, model.deleted_at.is_(None)
                )
                df = pd.DataFrame(conn.execute(stmt).mappings().all())
                env.frames[name] = df
        return env

    @property
    def models_dir(self) -> Path:
        if self.data_dir is not None:
            return Path(self.data_dir)
        from mspilot.core.settings import Settings

        return Path(Settings().data_dir)

    @staticmethod
    def first_tenant(engine: Engine) -> str:
        with engine.connect() as conn:
            tenant = conn.execute(select(Tenant.id).order_by(Tenant.id)).scalar()
        if tenant is None:
            from mspilot.core.errors import DataError

            raise DataError("no tenant in the database: run `mspilot demo` first")
        return str(tenant)

    # ---- periods ------------------------------------------------------------------------------

    @property
    def last_month(self) -> Period:
        start = add_months(month_start(self.today), -1)
        return Period(start, month_start(self.today))

    @property
    def month_before_last(self) -> Period:
        start = add_months(month_start(self.today), -2)
        return Period(start, add_months(start, 1))

    @property
    def last_quarter(self) -> Period:
        q = (self.today.month - 1) // 3
        start = add_months(dt.date(self.today.year, 3 * q + 1, 1), -3)
        return Period(start, add_months(start, 3))

    @property
    def this_year(self) -> Period:
        return Period.year(self.today.year)

    # ---- frames with derived columns ----------------------------------------------------------

    def t(self, name: str) -> pd.DataFrame:
        return self.frames[name]

    @cached_property
    def client_names(self) -> dict[str, str]:
        df = self.t("clients")
        return dict(zip(df["id"], df["name"], strict=True))

    @cached_property
    def tech_names(self) -> dict[str, str]:
        df = self.t("technicians")
        return dict(zip(df["id"], df["name"], strict=True))

    @cached_property
    def revenue_lines(self) -> pd.DataFrame:
        inv = self.t("invoices")
        inv = inv[inv["status"] != "void"]
        lines = self.t("invoice_lines").merge(
            inv[["id", "client_id", "issued_on"]],
            left_on="invoice_id",
            right_on="id",
            suffixes=("", "_inv"),
        )
        lines["issued_on"] = pd.to_datetime(lines["issued_on"])
        lines["amount"] = lines["amount"].astype(float)
        return lines

    @cached_property
    def tickets(self) -> pd.DataFrame:
        df = self.t("tickets").copy()
        opened = pd.to_datetime(df["opened_at"], utc=True)
        df["opened_day"] = opened.dt.tz_localize(None).dt.normalize()
        resolved = pd.to_datetime(df["resolved_at"], utc=True)
        df["resolution_hours"] = (resolved - opened).dt.total_seconds() / 3600.0
        return df

    @cached_property
    def entries(self) -> pd.DataFrame:
        df = self.t("time_entries").merge(
            self.t("technicians")[["id", "hourly_cost"]].rename(columns={"id": "technician_id"}),
            on="technician_id",
        )
        df["work_date"] = pd.to_datetime(df["work_date"])
        df["hours"] = df["hours"].astype(float)
        df["labour_cost"] = df["hours"] * df["hourly_cost"].astype(float)
        return df

    # ---- expectations -------------------------------------------------------------------------

    def revenue(self, period: Period, client_ids: list[str] | None = None) -> float:
        df = self.revenue_lines
        df = df[_period_mask(df["issued_on"], period)]
        if client_ids is not None:
            df = df[df["client_id"].isin(client_ids)]
        return round(float(df["amount"].sum()), 2)

    def revenue_by_client(self, period: Period) -> pd.Series:
        df = self.revenue_lines
        df = df[_period_mask(df["issued_on"], period)]
        return (
            df.groupby("client_id")["amount"]
            .sum()
            .rename(index=self.client_names)
            .sort_values(ascending=False)
        )

    def tickets_in(self, period: Period, **eq: Any) -> pd.DataFrame:
        df = self.tickets
        df = df[_period_mask(df["opened_day"], period)]
        for key, value in eq.items():
            df = df[df[key] == value]
        return df

    def entries_in(self, period: Period) -> pd.DataFrame:
        df = self.entries
        return df[_period_mask(df["work_date"], period)]

    def hours_by_technician(self, period: Period) -> pd.Series:
        df = self.entries_in(period)
        return (
            df.groupby("technician_id")["hours"]
            .sum()
            .rename(index=self.tech_names)
            .sort_values(ascending=False)
        )

    def hours_by_client(self, period: Period) -> pd.Series:
        df = self.entries_in(period)
        return (
            df.groupby("client_id")["hours"]
            .sum()
            .rename(index=self.client_names)
            .sort_values(ascending=False)
        )

    def unbilled(self) -> pd.DataFrame:
        df = self.entries
        cutoff = pd.Timestamp(self.today - dt.timedelta(days=35))
        mask = (
            df["billable"].astype(bool) & df["invoice_line_id"].isna() & (df["work_date"] < cutoff)
        )
        return df[mask]

    def open_invoices(self) -> pd.DataFrame:
        inv = self.t("invoices").copy()
        inv["balance"] = inv["balance"].astype(float)
        return inv[(inv["balance"] > 0) & inv["status"].isin(["open", "overdue"])]

    def overdue_invoices(self) -> pd.DataFrame:
        inv = self.open_invoices()
        due = pd.to_datetime(inv["due_on"])
        return inv[(inv["status"] == "overdue") | (due < pd.Timestamp(self.today))]

    def active_client_ids(self, on: dt.date | None = None) -> list[str]:
        on = on or self.today
        df = self.t("clients")
        onb = pd.to_datetime(df["onboarded_on"])
        churn = pd.to_datetime(df["churned_on"])
        mask = (
            (df["status"] != "prospect")
            & (onb.isna() | (onb <= pd.Timestamp(on)))
            & (churn.isna() | (churn > pd.Timestamp(on)))
        )
        return list(df.loc[mask, "id"])

    def contracts_in_force(self, on: dt.date | None = None) -> pd.DataFrame:
        on = on or self.today
        df = self.t("contracts")
        starts = pd.to_datetime(df["starts_on"])
        ends = pd.to_datetime(df["ends_on"])
        mask = (
            ~df["status"].isin(["draft", "cancelled"])
            & (starts <= pd.Timestamp(on))
            & (ends.isna() | (ends >= pd.Timestamp(on)))
        )
        return df[mask]

    def licence_cost_by_client(self, period: Period) -> pd.Series:
        df = self.t("licenses").copy()
        starts = pd.to_datetime(df["starts_on"])
        ends = pd.to_datetime(df["ends_on"])
        months = pd.Series(0, index=df.index)
        for start in period.month_starts():
            end = add_months(start, 1)
            active = (starts.isna() | (starts < pd.Timestamp(end))) & (
                ends.isna() | (ends >= pd.Timestamp(start))
            )
            months = months + active.astype(int)
        cost = df["seats_in_use"].astype(float) * df["unit_cost"].astype(float) * months
        return cost.groupby(df["client_id"]).sum()

    def margin_by_client(self, period: Period) -> pd.Series:
        rev = self.revenue_lines
        rev = rev[_period_mask(rev["issued_on"], period)].groupby("client_id")["amount"].sum()
        lab = self.entries_in(period).groupby("client_id")["labour_cost"].sum()
        lic = self.licence_cost_by_client(period)
        ids = self.t("clients")["id"]
        margin = (
            rev.reindex(ids, fill_value=0)
            - lab.reindex(ids, fill_value=0)
            - lic.reindex(ids, fill_value=0)
        )
        return margin.rename(index=self.client_names).sort_values(ascending=False)

    # ---- picks for question templates ---------------------------------------------------------

    @cached_property
    def picks(self) -> dict[str, Any]:
        year = Period(add_months(month_start(self.today), -12), month_start(self.today))
        active = set(self.active_client_ids())
        tickets = self.tickets_in(year)
        busiest = (
            tickets[tickets["client_id"].isin(active)]
            .groupby("client_id")
            .size()
            .sort_values(ascending=False)
        )
        rev = self.revenue_by_client(self.this_year)
        owing = (
            self.open_invoices().groupby("client_id")["balance"].sum().sort_values(ascending=False)
        )
        clients = self.t("clients")
        industries = clients[clients["id"].isin(active)]["industry"].value_counts()
        categories = self.tickets["category"].value_counts()
        lq = self.last_quarter
        client_a = self.client_names[busiest.index[0]]
        client_b = next((n for n in rev.index if n != client_a), client_a)
        owing_names = [self.client_names[i] for i in owing.index]
        client_c = next((n for n in owing_names if n not in (client_a, client_b)), client_b)
        return {
            "client_a": client_a,
            "client_a_id": busiest.index[0],
            "client_b": client_b,
            "client_c": client_c,
            "tech_a": self.hours_by_technician(self.last_month).index[0],
            "industry": industries.index[0],
            "category": categories.index[0],
            "month": self.last_month.start.strftime("%B"),
            "prev_month": self.month_before_last.start.strftime("%B"),
            "year": self.today.year,
            "q": (lq.start.month - 1) // 3 + 1,
            "q_year": lq.start.year,
        }
