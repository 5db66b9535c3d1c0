"""Leads as a CSV file for spreadsheets, safe to open: customers wrote these cells."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable

from talia_core.repositories.contactos import Lead

HEADER = (
    "saved_at",
    "channel",
    "identity",
    "name",
    "email",
    "phone",
    "interest",
    "notes",
    "opted_out",
    "contact_id",
)
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (OWASP, "CSV Injection"): it is written after an apostrophe, which they show as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str | None) -> str:
    """A text cell a spreadsheet shows as the text it is."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _line(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def _cells(lead: Lead) -> tuple[str, ...]:
    return (
        lead.guardado_at.isoformat(),
        lead.canal,
        safe_cell(lead.identidad),
        safe_cell(lead.nombre),
        safe_cell(lead.email),
        safe_cell(lead.telefono),
        safe_cell(lead.interes),
        safe_cell(lead.notas),
        "yes" if lead.opt_out else "no",
        str(lead.contacto_id),
    )


async def csv_lines(leads: AsyncIterator[Lead]) -> AsyncIterator[bytes]:
    """The header, then one line per lead (UTF-8, with a BOM so Excel reads it as such)."""
    yield ("\ufeff" + _line(HEADER)).encode()
    async for lead in leads:
        yield _line(_cells(lead)).encode()
