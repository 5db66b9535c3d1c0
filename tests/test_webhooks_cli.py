"""`talia webhooks add|list|remove` against the test database, as operators run them."""

import re

import pytest

from talia.cli import main


@pytest.fixture(autouse=True)
def use_test_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("TALIA_WEBHOOKS_ALLOW_PRIVATE_TARGETS", raising=False)


def test_add_list_and_remove_a_subscription(capsys: pytest.CaptureFixture[str]) -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX"

    main(["webhooks", "add", url, "--events", "handoff_requested,lead_saved", "--format", "slack"])
    added = capsys.readouterr().out
    webhook_id = re.search(r"subscribed (\S+) ", added)
    assert webhook_id is not None
    main(["webhooks", "list"])
    listed = capsys.readouterr().out
    main(["webhooks", "remove", webhook_id[1]])
    main(["webhooks", "list"])
    after = capsys.readouterr().out

    assert re.search(r"signing secret \(shown once\): whsec_[A-Za-z0-9+/=]{44}\n", added)
    assert "XXXXXXXXXXXX" not in added + listed  # the URL's secret part is not shown
    assert listed == (
        f"{webhook_id[1]}  slack     handoff_requested,lead_saved"
        "  https://hooks.slack.com/services/T0…\n"
    )
    assert after.startswith(f"removed {webhook_id[1]}\nno webhooks yet")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["http://127.0.0.1:9000/x", "--events", "lead_saved"], "loopback, private"),
        (["https://hooks.example/x", "--events", "everything"], "Unknown event everything"),
        (["https://hooks.example/x", "--events", "lead_saved", "--secret", "x"], "whsec_"),
    ],
)
def test_a_refused_subscription_is_one_line_and_nothing_stored(
    args: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["webhooks", "add", *args])
    main(["webhooks", "list"])

    assert complaint in str(refused.value)
    assert str(refused.value).startswith("talia: ")
    assert capsys.readouterr().out.startswith("no webhooks yet")
