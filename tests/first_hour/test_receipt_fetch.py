"""Issue #17 item 5: `hromada-verify receipt --ledger URL --event ID` fetches the receipt from the ledger; bad
ids, unknown events and missing options are refused in one line (exit 2). The full path, against a served demo
city and its chain, is tests/first_hour/test_readme_try_it.py."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from verifier.cli import app
from verifier.errors import CannotVerify
from verifier.receipt import fetch_receipt

EVENT = "5ba87568-8c63-5eb6-a1c1-494d10c68141"


def client(status: int, body: object) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/v1/receipts/{EVENT}"
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://ledger.test")


def test_fetches_the_receipt_of_the_event() -> None:
    assert fetch_receipt("http://ledger.test/", EVENT, client=client(200, {"leaf_index": 3})) == {"leaf_index": 3}


def test_unknown_event_and_bad_answers_cannot_verify() -> None:
    with pytest.raises(CannotVerify, match="has no receipt for event"):
        fetch_receipt("http://ledger.test", EVENT, client=client(404, {"type": "not-found"}))
    with pytest.raises(CannotVerify, match="HTTP 500"):
        fetch_receipt("http://ledger.test", EVENT, client=client(500, {}))
    with pytest.raises(CannotVerify, match="not a JSON object"):
        fetch_receipt("http://ledger.test", EVENT, client=client(200, [1]))
    with pytest.raises(CannotVerify, match="must be an event id"):
        fetch_receipt("http://ledger.test", "../../etc", client=client(200, {}))


@pytest.mark.parametrize(
    "args",
    [
        ["receipt", "--key", "k"],  # neither a file nor --event
        ["receipt", "--event", EVENT, "--key", "k"],  # --event without --ledger
        ["receipt", "r.json", "--ledger", "http://x", "--event", EVENT, "--key", "k"],  # both
    ],
)
def test_the_receipt_source_is_one_of_file_or_ledger_event(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "give a RECEIPT.json file, or --ledger URL --event ID" in result.output
