"""What the books say besides amounts, for the leak rules: the notes on invoice lines and
contracts, duplicate worklogs, the month an entry was billed in, prepaid hours.

Real billing data carries legitimate look-alikes of leaks: a month waived as goodwill (noted
on a later invoice), a discount above policy documented on the contract, hours omitted from
one invoice and billed on the next as a correction, prepaid blocks drawn down by time entries
no invoice line links, a worklog saved twice, work posted after its month's invoice. Each
helper here reads the evidence the rows carry, never a list of known cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Engine, or_, select

from mspilot.db.schema import Contract, InvoiceLine
from mspilot.models.data import month_index, read_frame

#: words that mark a line's note as explaining a month's missing or reduced billing
WAIVER = re.compile(r"\b(?:waived|goodwill|credit(?:ed)?|no charge)\b", re.IGNORECASE)
CORRECTION = re.compile(r"\b(?:billing )?correction\b", re.IGNORECASE)
PREPAID = re.compile(r"\bprepaid\b", re.IGNORECASE)
APPROVED_DISCOUNT = re.compile(
    r"(?:special|approved)\b[^()]*\bdiscount|discount\b[^()]*\bapproved", re.IGNORECASE
)
MONTH_LABEL = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* (\d{4})\b", re.IGNORECASE
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
NOTE_WORDS = ("%waived%", "%goodwill%", "%credit%", "%correction%", "%prepaid%", "%no charge%")


def line_notes(engine: Engine, tenant_id: str) -> pd.DataFrame:
    """(id, description) of the tenant's invoice lines whose text may explain billing."""
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(InvoiceLine.id, InvoiceLine.description).where(
                InvoiceLine.tenant_id == tenant_id,
                InvoiceLine.deleted_at.is_(None),
                or_(*(InvoiceLine.description.ilike(w) for w in NOTE_WORDS)),
            ),
        )


def contract_names(engine: Engine, tenant_id: str) -> dict[str, str]:
    with engine.connect() as conn:
        frame = read_frame(
            conn,
            select(Contract.id, Contract.name).where(
                Contract.tenant_id == tenant_id, Contract.deleted_at.is_(None)
            ),
        )
    return {str(k): str(v or "") for k, v in zip(frame["id"], frame["name"], strict=True)}


def documented_discount(name: str) -> bool:
    """The contract documents an approved special discount."""
    return bool(APPROVED_DISCOUNT.search(name))


def months_named(text: str) -> set[int]:
    """Month indices (``month_index`` scale) of the month labels in ``text`` ("Mar 2026")."""
    return {
        int(year) * 12 + _MONTHS.index(mon[:3].lower())
        for mon, year in MONTH_LABEL.findall(text or "")
    }


def noted_months(
    notes: pd.DataFrame, lines: pd.DataFrame, pattern: re.Pattern[str]
) -> pd.DataFrame:
    """(client_id, month, line id, quantity, kind) for each month a note matching ``pattern``
    names, one row per (line, month named)."""
    if notes.empty:
        return pd.DataFrame(columns=["client_id", "month", "id", "quantity", "kind", "billed"])
    hits = notes[notes["description"].fillna("").str.contains(pattern)]
    merged = hits.merge(lines[["id", "client_id", "quantity", "kind", "month"]], on="id")
    rows = [
        (r.client_id, m, r.id, float(r.quantity), r.kind, int(r.month))
        for r in merged.itertuples(index=False)
        for m in months_named(str(r.description))
    ]
    return pd.DataFrame(rows, columns=["client_id", "month", "id", "quantity", "kind", "billed"])


def duplicate_entries(entries: pd.DataFrame) -> set[str]:
    """Ids of unlinked entries identical (client, ticket, technician, day, hours) to an entry
    an invoice line links: the same worklog saved twice, not work left unbilled."""
    if entries.empty:
        return set()
    key = ["client_id", "ticket_id", "technician_id", "work_date", "hours"]
    work = entries[entries["ticket_id"].notna()]
    linked = work[work["invoice_line_id"].notna()][key].drop_duplicates()
    loose = work[work["invoice_line_id"].isna()]
    twins = loose.merge(linked, on=key, how="inner", suffixes=("", "_l"))
    return set(twins["id"].astype(str))


def billing_month(entries: pd.DataFrame, lines: pd.DataFrame) -> pd.Series:
    """The month each entry was billed in (its line's invoice month), else the work month."""
    work = month_index(entries["work_date"])
    billed = entries["invoice_line_id"].map(dict(zip(lines["id"], lines["month"], strict=True)))
    return billed.fillna(pd.Series(work, index=entries.index)).astype(int)


def consume(
    entries: pd.DataFrame, hours: Iterable[tuple[int, float]], *, from_month: bool
) -> set[str]:
    """Ids of ``entries`` (one client, sorted by work date) covered by ``hours``: (month, h)
    pairs; each covers entries of that month (``from_month=False``) or of that month on
    (``from_month=True``, a prepaid block drawn down), first come first served."""
    covered: set[str] = set()
    months = month_index(entries["work_date"])
    for month, budget in sorted(hours):
        left = budget
        for k, row in enumerate(entries.itertuples(index=False)):
            if str(row.id) in covered:
                continue
            match = months[k] >= month if from_month else months[k] == month
            if match and float(row.hours) <= left + 1e-9:
                covered.add(str(row.id))
                left -= float(row.hours)
    return covered
