"""Standard Webhooks signatures and the targets a subscription may name."""

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from talia_core.webhooks import InvalidTarget, TargetNotAllowed, check_target, new_secret, sign


def test_a_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_secret()
    body = '{"type": "lead_saved", "data": {"nombre": "José"}}'.encode()
    now = int(time.time())
    headers = {
        "webhook-id": "evt_42",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, webhook_id="evt_42", timestamp=now, body=body),
    }

    assert Webhook(secret).verify(body, headers) == {
        "type": "lead_saved",
        "data": {"nombre": "José"},
    }


def test_a_tampered_body_does_not_verify() -> None:
    secret = new_secret()
    now = int(time.time())
    signature = sign(secret, webhook_id="evt_1", timestamp=now, body=b'{"a": 1}')
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(now), "webhook-signature": signature}

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a": 2}', headers)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "https://LOCALHOST./x",
        "http://api.localhost/x",
        "http://169.254.169.254/",
        "http://192.168.0.10:8080/",
        "http://[fd00::1]/",
        "http://[::ffff:10.1.2.3]/",
        "http://0.0.0.0/",
    ],
)
def test_local_and_private_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetNotAllowed):
        check_target(url, allow_private=False)
    check_target(url, allow_private=True)


@pytest.mark.parametrize("url", ["https://hooks.slack.com/services/T/B/x", "http://8.8.8.8/"])
def test_public_targets_pass(url: str) -> None:
    check_target(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    ["http://[", "http://hooks.example:99999/", "ftp://hooks.example/", "https://a:b@x.example/"],
)
def test_a_url_without_a_usable_host_is_invalid(url: str) -> None:
    with pytest.raises(InvalidTarget):
        check_target(url, allow_private=True)
