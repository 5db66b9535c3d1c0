"""Sign requests the way Twilio does, with twilio's own `RequestValidator`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from twilio.request_validator import RequestValidator


class TwilioSigner:
    """Computes `X-Twilio-Signature` for a URL and its form parameters."""

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def sign(self, url: str, params: Mapping[str, str] | Sequence[tuple[str, str]] = ()) -> str:
        """The signature of a form POST (or of a bare URL when `params` is empty)."""
        multi: dict[str, list[str]] = {}
        items = params.items() if isinstance(params, Mapping) else params
        for name, value in items:
            multi.setdefault(name, []).append(value)
        return str(self._validator.compute_signature(url, _GetAll(multi)))

    def sign_json(self, url_with_body_hash: str) -> str:
        """The signature of a JSON webhook: the URL (already carrying `bodySHA256`) alone."""
        return str(self._validator.compute_signature(url_with_body_hash, {}))

    def body_hash(self, body: str) -> str:
        """The hex SHA-256 Twilio puts in `bodySHA256`."""
        return str(self._validator.compute_hash(body))


class _GetAll(dict[str, list[str]]):
    def getall(self, name: str) -> list[str]:
        return self[name]
