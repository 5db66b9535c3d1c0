"""GET /api/console/leads and /leads.csv: who gave their details, when, on which channel."""

import csv
import io
from uuid import UUID

import psycopg

from .console_kit import Console


def _lead(console: Console, channel: str, name: str, *, days_ago: float = 0, **fields: str) -> UUID:
    """A conversation whose contact saved lead data `days_ago`, as `guardar_lead` saves it."""
    conversation = console.conversation(channel)
    with psycopg.connect(console.database_url, autocommit=True) as conn:
        row = conn.execute(
            "select contacto_id from public.conversaciones where conversacion_id = %s",
            (conversation,),
        ).fetchone()
        assert row is not None
        conn.execute(
            "select public.actualizar_lead(%s, p_nombre => %s, p_email => %s, p_interes => %s,"
            " p_conversacion_id => %s)",
            (row[0], name, fields.get("email"), fields.get("interest"), conversation),
        )
        conn.execute(
            "update public.eventos set created_at = now() - make_interval(days => %s)"
            " where contacto_id = %s and tipo = 'lead_saved'",
            (days_ago, row[0]),
        )
    contact: UUID = row[0]
    return contact


def _names(console: Console, agent: UUID, **params: str) -> list[str]:
    response = console.get(agent, "/leads", **params)
    assert response.status_code == 200, response.text
    return [lead["contact"]["name"] for lead in response.json()["leads"]]


def test_leads_are_listed_newest_first_and_filtered_by_date_and_channel(console: Console) -> None:
    ana = console.staff("Ana")
    _lead(console, "whatsapp", "Lucía", days_ago=10, email="lucia@example.com")
    _lead(console, "webchat", "Marta", days_ago=3)
    _lead(console, "whatsapp", "Pablo", days_ago=1, interest="plan anual")
    console.conversation("webchat")  # no lead data: not a lead

    assert _names(console, ana) == ["Pablo", "Marta", "Lucía"]
    assert _names(console, ana, channel="whatsapp") == ["Pablo", "Lucía"]
    since = console.rows("select (now() - interval '5 days')::date")[0][0].isoformat()
    assert _names(console, ana, since=since) == ["Pablo", "Marta"]
    until = console.rows("select now() - interval '2 days'")[0][0].isoformat()
    assert _names(console, ana, until=until) == ["Marta", "Lucía"]
    first = console.get(ana, "/leads").json()["leads"][0]
    assert first["contact"]["interest"] == "plan anual"


def test_lead_pages_follow_the_cursor(console: Console) -> None:
    ana = console.staff("Ana")
    for number in range(7):
        _lead(console, "webchat", f"Lead {number}", days_ago=number)

    names: list[str] = []
    cursor = None
    while True:
        body = console.get(ana, "/leads", **({"cursor": cursor} if cursor else {})).json()
        names += [lead["contact"]["name"] for lead in body["leads"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert names == [f"Lead {number}" for number in range(7)]


def test_the_csv_export_holds_every_lead_and_no_formula(console: Console) -> None:
    ana = console.staff("Ana")
    _lead(console, "whatsapp", '=HYPERLINK("http://evil.example","clic")', days_ago=2)
    _lead(console, "webchat", "José Núñez", days_ago=1, email="jose@example.com")

    response = console.http.get("/api/console/leads.csv", headers=console.as_(ana))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["name"] for row in rows] == [
        "José Núñez",
        '\'=HYPERLINK("http://evil.example","clic")',
    ]
    assert rows[0]["email"] == "jose@example.com"
    assert rows[1]["channel"] == "whatsapp"


def test_leads_are_for_staff_only(console: Console) -> None:
    for path in ("/api/console/leads", "/api/console/leads.csv"):
        assert console.http.get(path).status_code == 401
