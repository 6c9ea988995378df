"""The receipt page after the log rotated its signing key (docs/formats.md §3 "Key hand-over"), in real headless
Chromium against a real ledger that ran `rotate_key`: the city pinned the original key, the page fetches the
hand-overs from GET /v1/log/handovers and follows them as the verifier does (the rules case by case:
test_receipt_page_keychain.py). Failure cases first."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from api.auth.tokens import DevIssuer
from ledger import note
from ledger.db.schema import log_key_handovers
from ledger.keychain import handovers
from ledger.keys import generate_signer_file
from tests.api.receipt_site import Site, check_page


class Rotated:
    """The receipt site's ledger with its key rotated after the first receipt, and a receipt of an event signed
    after the hand-over (by the new key)."""

    def __init__(self, site: Site, data_dir: Path) -> None:
        self.site = site
        self.original: str = site.log_key
        self.old: note.Signer = site.ledger.signer.signer
        self.before: dict[str, Any] = site.receipt  # proved into a checkpoint of the original key
        handover, _ = site.ledger.rotate_key(generate_signer_file(data_dir / "new.key", site.ledger.settings.origin))
        self.handover_size = handover.tree_size
        self.new_key: str = site.ledger.signer.verifier_key
        petition = site.receipt["event"]["data"]["petition"]
        with httpx.Client(base_url=site.url) as http:
            for i in range(3):
                token = DevIssuer(data_dir).issue(f"after{i}")
                r = http.post(f"/v1/petitions/{petition}/signatures", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code in (200, 201), r.text
                event = r.json()["events"][0]
            site.ledger.integrate_and_checkpoint()
            self.after: dict[str, Any] = http.get(event["receipt"]).json()
            assert http.get("/v1/log").json()["verifier_key"] == self.new_key  # the server names its current key
        assert self.after["status"] == "proved" and self.size_of(self.after) > self.handover_size

    @staticmethod
    def size_of(receipt: dict[str, Any]) -> int:
        return int(receipt["checkpoint"].split("\n")[1])

    @contextmanager
    def served_handover(self, text: str) -> Iterator[None]:
        """GET /v1/log/handovers lists ``text`` instead of the real hand-over note while inside."""
        with self.site.ledger.engine.connect() as conn:
            [real] = handovers(conn)
        with self.site.ledger.engine.begin() as conn:
            conn.execute(update(log_key_handovers).values(note=text))
        try:
            yield
        finally:
            with self.site.ledger.engine.begin() as conn:
                conn.execute(update(log_key_handovers).values(note=real.note))


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rotated]:
    data_dir = tmp_path_factory.mktemp("rotated-site")
    site = Site(data_dir)
    try:
        yield Rotated(site, data_dir)
    finally:
        site.close()


def _flip_last_signature(note_text: str) -> str:
    text, sigs = note_text.split("\n\n", 1)
    lines = sigs.rstrip("\n").split("\n")
    name, b64 = lines[-1][2:].split(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    lines[-1] = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}"
    return text + "\n\n" + "\n".join(lines) + "\n"


def test_a_forged_hand_over_is_refused(browser: Any, rotated: Rotated) -> None:
    """The hand-over's second signature (the new key's) does not verify: the chain does not reach the new key, and
    the receipt it signed fails, saying why."""
    site = rotated.site
    site.pin(log_key=rotated.original)
    with site.ledger.engine.connect() as conn:
        [real] = handovers(conn)
    with rotated.served_handover(_flip_last_signature(real.note)):
        status, text = check_page(browser, site.url, rotated.after)
    assert status == "fail", text
    assert "Ланцюг передач ключа журналу розірвано" in text, text
    assert f"передачу на розмірі {rotated.handover_size} не підписано новим ключем" in text
    assert "is not signed by the new key" in text and "does not go through it" in text
    assert "Підпис контрольної точки журналу дійсний" not in text
    # a hand-over the pinned key never signed (another key hands over to the same new key)
    mallory = note.generate_signer(site.ledger.settings.origin)
    body = note.parse_note(real.note)[0]
    with rotated.served_handover(note.sign_note(body, mallory)):
        status, text = check_page(browser, site.url, rotated.after)
    assert status == "fail" and "не підписано ключем, чинним на цьому розмірі" in text, text


def test_the_retired_key_signing_past_its_hand_over_is_refused(browser: Any, rotated: Rotated) -> None:
    site = rotated.site
    site.pin(log_key=rotated.original)
    body = note.parse_note(rotated.after["checkpoint"])[0]
    stale = {**rotated.after, "checkpoint": note.sign_note(body, rotated.old)}  # the operator kept the old key
    status, text = check_page(browser, site.url, stale)
    assert status == "fail", text
    size = rotated.size_of(stale)
    assert f"Контрольну точку розміру {size} підписано ключем" in text, text
    assert f"передача ключа на розмірі {rotated.handover_size} вивела його з ужитку" in text
    assert f"the hand-over at size {rotated.handover_size} retired it" in text
    # a ledger that lists no hand-over (junk only): the new key's receipt is by a key the page cannot reach
    with rotated.served_handover("not a note"):
        status, text = check_page(browser, site.url, rotated.after)
    assert status == "fail" and "Підпис контрольної точки недійсний" in text, text


def test_a_later_key_pinned_is_refused_and_says_to_pin_the_first(browser: Any, rotated: Rotated) -> None:
    site = rotated.site
    site.pin(log_key=rotated.new_key)  # what a city re-pinning the current key after a rotation would do
    status, text = check_page(browser, site.url, rotated.after)
    assert status == "fail", text
    assert "ланцюг ніколи не повертається" in text and "не перший ключ ланцюга передач" in text, text


def test_a_receipt_signed_by_the_new_key_verifies_through_the_hand_over(browser: Any, rotated: Rotated) -> None:
    site = rotated.site
    site.pin(log_key=rotated.original)
    status, text = check_page(browser, site.url, rotated.after)
    # the only check not made here is the witnesses' (none pinned); the key is the city's, followed
    assert status == "partial" and "No witnesses pinned" in text, text
    new_id = rotated.new_key.split("+")[1]
    assert f"підписав ключ {site.ledger.settings.origin}+{new_id}" in text
    assert "через 1 передачу ключа" in text and "through 1 key hand-over" in text
    assert "Ключ підпису / Signing key" in text
    assert "Сервер оголошує інший ключ" not in text  # the server's current key is the one the chain reaches
    # a receipt from before the rotation: the original key, in force up to the hand-over
    status, text = check_page(browser, site.url, rotated.before)
    assert status == "partial", text
    assert f"підписав сам ключ довіри, чинний для розмірів до {rotated.handover_size}" in text, text
    # without a pin: the chain starts at the server's first key, and the page says the key is the server's word
    site.pin()
    status, text = check_page(browser, site.url, rotated.after)
    assert status == "partial" and "через 1 передачу ключа" in text, text
    assert "Ключ журналу взято з цього сервера" in text


def test_hand_overs_that_cannot_be_read_are_said_not_checked(
    browser: Any, rotated: Rotated, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /v1/log/handovers failing: said not checked (never ticked). The original key's receipt verifies by its
    signature, but the page cannot tell that the key the server announces (the new one) is the pinned key's
    successor, so that fails as before rotations existed; the new key's receipt fails too."""
    import api.routers.log

    def broken(conn: Any) -> Any:
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(api.routers.log, "handovers", broken)
    site = rotated.site
    site.pin(log_key=rotated.original)
    status, text = check_page(browser, site.url, rotated.before)
    assert status == "fail", text
    assert "Підпис контрольної точки журналу дійсний / Checkpoint signature by the log key is valid\n" in text + "\n"
    assert "Передачі ключа журналу не вдалося прочитати (GET /v1/log/handovers: HTTP 500)" in text, text
    assert "Сервер оголошує інший ключ журналу, ніж закріплений містом" in text
    status, text = check_page(browser, site.url, rotated.after)
    assert status == "fail" and "could not be read" in text and "недійсний" in text, text
