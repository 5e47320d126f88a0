"""Which SuperOps custom field holds which canonical fact: data per tenant, not code.

SuperOps lists an account's custom fields (``getClientCustomFieldList``,
``getTicketCustomFieldList``: column name ``udf4date``, label "Churn date", type ``DATE``). The
map is resolved per tenant, in this order:

1. a person's choice (``mspilot sources map --set client.churned_on=udf7date``, origin
   ``manual``; ``--set client.churned_on=`` says "the account keeps no such field");
2. discovered from the account: a field whose label names the fact and whose type fits
   (origin ``discovered``); when the account lists its fields and none fits a fact, the fact is
   unmapped and the loader derives it (a churn date from the last contract end, ...);
3. the defaults of ``SuperOpsConventions`` when the account's fields cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from mspilot.connectors.checks import CustomField
from mspilot.connectors.superops.conventions import SuperOpsConventions
from mspilot.db.field_maps import FieldMapping

#: entity -> fact -> (label pattern, field types that can hold it)
FACTS: dict[str, dict[str, tuple[re.Pattern[str], frozenset[str]]]] = {
    "client": {
        "industry": (re.compile(r"industry|vertical|sector", re.I), frozenset({"SELECT", "TEXT"})),
        "seats": (
            re.compile(r"seat|users?\b|head ?count|employees", re.I),
            frozenset({"NUMERIC", "DECIMAL", "TEXT"}),
        ),
        "onboarded_on": (
            re.compile(r"onboard|client since|customer since|start(ed)? date|go.?live", re.I),
            frozenset({"DATE", "DATETIME", "TEXT"}),
        ),
        "churned_on": (
            re.compile(r"churn|cancel|terminat|offboard|inactive since|end date|lost on", re.I),
            frozenset({"DATE", "DATETIME", "TEXT"}),
        ),
    },
    "ticket": {
        "csat": (
            re.compile(r"csat|satisfaction|rating|survey score", re.I),
            frozenset({"NUMERIC", "DECIMAL", "SELECT", "RADIO", "TEXT"}),
        ),
        "resolution": (
            re.compile(r"resolution|solution|fix notes", re.I),
            frozenset({"TEXT", "PARAGRAPH", "RICH_TEXT"}),
        ),
    },
}
#: labels the fake (and ``custom_field_definitions``) gives the default columns
LABELS = {
    "industry": "Industry",
    "seats": "Seats",
    "onboarded_on": "Onboarded on",
    "churned_on": "Churned on",
    "csat": "CSAT",
    "resolution": "Resolution notes",
}
_TYPE_SUFFIX = re.compile(r"(select|numeric|decimal|date|datetime|text|paragraph)$", re.I)


def defaults(conventions: SuperOpsConventions | None = None) -> list[FieldMapping]:
    conv = conventions or SuperOpsConventions()
    return [
        FieldMapping(entity, fact, column, LABELS.get(fact), "default")
        for entity, columns in (("client", conv.client_fields), ("ticket", conv.ticket_fields))
        for fact, column in columns.items()
    ]


def discover(fields: Iterable[CustomField]) -> list[FieldMapping]:
    """What an account's custom-field definitions say (a fact no field fits is unmapped)."""
    by_entity: dict[str, list[CustomField]] = {}
    for f in fields:
        by_entity.setdefault(f.entity, []).append(f)
    out: list[FieldMapping] = []
    for entity, facts in FACTS.items():
        listed = by_entity.get(entity, [])
        taken: set[str] = set()
        for fact, (pattern, kinds) in facts.items():
            match = next(
                (
                    f
                    for f in listed
                    if f.column not in taken
                    and pattern.search(f.label or "")
                    and (f.kind or "TEXT").upper() in kinds
                ),
                None,
            )
            if match is not None:
                taken.add(match.column)
            out.append(
                FieldMapping(
                    entity,
                    fact,
                    match.column if match else None,
                    match.label if match else None,
                    "discovered",
                )
            )
    return out


def resolve(
    stored: Iterable[FieldMapping], discovered: Iterable[FieldMapping] | None
) -> dict[tuple[str, str], FieldMapping]:
    """The map in force: manual choices, else what the account says, else the defaults."""
    out = {(m.entity, m.fact): m for m in defaults()}
    if discovered is not None:
        out.update({(m.entity, m.fact): m for m in discovered})
    else:  # the account's fields could not be read: what an earlier sync discovered stands
        out.update({(m.entity, m.fact): m for m in stored if m.origin == "discovered"})
    out.update({(m.entity, m.fact): m for m in stored if m.origin == "manual"})
    return out


def conventions_from(mapping: Mapping[tuple[str, str], FieldMapping]) -> SuperOpsConventions:
    """The mapper's view of a map: unmapped facts are left out (the loader derives them)."""
    client = {f: m.column for (e, f), m in mapping.items() if e == "client" and m.column}
    ticket = {f: m.column for (e, f), m in mapping.items() if e == "ticket" and m.column}
    return SuperOpsConventions(client_fields=client, ticket_fields=ticket)


def custom_field_definitions(
    conventions: SuperOpsConventions | None = None,
) -> dict[str, list[dict[str, object]]]:
    """SuperOps-shaped definitions of the conventions' columns (what the fake serves)."""
    conv = conventions or SuperOpsConventions()
    out: dict[str, list[dict[str, object]]] = {"client": [], "ticket": []}
    for entity, columns in (("client", conv.client_fields), ("ticket", conv.ticket_fields)):
        for n, (fact, column) in enumerate(columns.items(), start=1):
            suffix = _TYPE_SUFFIX.search(column)
            out[entity].append(
                {
                    "id": f"{entity}-cf-{n}",
                    "columnName": column,
                    "label": LABELS.get(fact, fact),
                    "description": None,
                    "fieldType": suffix.group(1).upper() if suffix else "TEXT",
                    "showToClient": False,
                }
            )
    return out
