"""The team API: admins list, add and disable staff."""

from .console_kit import Console


def test_an_admin_adds_lists_and_disables_staff(console: Console) -> None:
    admin = console.staff("Alba", role="admin")
    user = console.auth.add_user("bea@business.example", "correct horse battery")

    added = console.post(
        admin,
        "/staff",
        {"email": "Bea@Business.example", "name": " Bea ", "role": "agent", "user_id": str(user)},
    )
    token = console.sign_in("bea@business.example", "correct horse battery")
    as_bea = {"Authorization": f"Bearer {token}"}
    before = console.http.get("/api/console/me", headers=as_bea).status_code
    disabled = console.post(admin, f"/staff/{user}/disable")
    after = console.http.get("/api/console/me", headers=as_bea)
    team = console.get(admin, "/staff").json()

    assert added.status_code == 200, added.text
    assert added.json() == {
        "id": str(user),
        "email": "bea@business.example",
        "name": "Bea",
        "role": "agent",
        "active": True,
    }
    assert (before, disabled.json()["active"]) == (200, False)
    assert (after.status_code, after.json()["error"]["code"]) == (403, "not_staff")
    assert [(m["name"], m["active"]) for m in team] == [("Alba", True), ("Bea", False)]


def test_the_team_is_the_admins_to_manage(console: Console) -> None:
    admin, agent = console.staff("Alba", role="admin"), console.staff("Bea")

    refused = [
        console.get(agent, "/staff").status_code,
        console.post(agent, "/staff", {"email": "x@y.example", "name": "X"}).status_code,
        console.post(agent, f"/staff/{admin}/disable").status_code,
    ]
    themselves = console.post(admin, f"/staff/{admin}/disable")
    unknown_user = console.post(admin, "/staff", {"email": "nadie@business.example", "name": "N"})

    assert refused == [403, 403, 403]
    assert (themselves.status_code, themselves.json()["error"]["code"]) == (
        409,
        "cannot_disable_yourself",
    )
    assert (unknown_user.status_code, unknown_user.json()["error"]["code"]) == (
        404,
        "auth_user_not_found",
    )
