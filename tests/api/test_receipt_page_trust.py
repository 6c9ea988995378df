"""The receipt page checks for itself (issue #16), in real headless Chromium: the anchor is read from the chain
through the pinned JSON-RPC endpoint (a stub chain on 127.0.0.1 here), the log key and the witness policy come
from the deploy-time pins (/receipt-config.json), and whatever could not be checked is said, never ticked.
Failure cases first."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth.tokens import DevIssuer
from api.receipt_page import key_fingerprint
from ledger import note
from tests.api.receipt_site import ORIGIN, Site, Witness, check_page, with_lines
from tests.api.rpc_stub import RpcStub
from tests.ports import free_port

SEPOLIA = 11155111
CONTRACT = "0x" + "ab" * 20


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = Site(tmp_path_factory.mktemp("receipt-site"))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def chain() -> Iterator[RpcStub]:
    stub = RpcStub(SEPOLIA)
    try:
        yield stub
    finally:
        stub.close()


@pytest.fixture(scope="module")
def witnesses() -> tuple[Witness, Witness]:
    return Witness("w1.example"), Witness("w2.example")


def _pins(site: Site, chain: RpcStub | None, ws: tuple[Witness, ...] = (), **extra: Any) -> None:
    pins: dict[str, Any] = {"log_key": site.log_key, "chain_id": SEPOLIA, "contract": CONTRACT}
    if chain is not None:
        pins["rpc_url"] = chain.url
    if ws:
        pins["witnesses"] = [{"name": w.signer.name, "key": w.verifier_key} for w in ws]
    site.pin(**{**pins, **extra})


def _anchored(site: Site, anchor: dict[str, Any], *lines: str) -> dict[str, Any]:
    return {**with_lines(site.receipt, *lines), "anchor": anchor, "status": "anchored"}


# ---------------------------------------------------------------------------------------------- the anchor


def test_a_fabricated_anchor_is_shown_as_failed(browser: Any, site: Site, chain: RpcStub) -> None:
    _pins(site, chain)
    real = chain.put_anchor(ORIGIN, site.size, site.root, CONTRACT)
    # the server claims another root in the same transaction: the chain carries the real one
    forged = {**real, "root": "11" * 32}
    status, text = check_page(browser, site.url, _anchored(site, forged))
    assert status == "fail", text
    assert "Блокчейн НЕ містить такого закріплення" in text and "the server's claim differs from the chain" in text
    assert "eth_getTransactionReceipt" in chain.calls  # the page asked the chain, not the ledger
    # a transaction that is not on chain at all
    invented = {**real, "tx": "0x" + "cd" * 32}
    status, text = check_page(browser, site.url, _anchored(site, invented))
    assert status == "fail" and "Транзакції закріплення немає в блокчейні" in text, text
    # an anchor in a contract the city did not pin
    status, text = check_page(browser, site.url, _anchored(site, {**real, "contract": "0x" + "99" * 20}))
    assert status == "fail" and "another contract than the one the city pinned" in text, text
    # on a chain the city did not pin
    status, text = check_page(browser, site.url, _anchored(site, {**real, "chain_id": 1}))
    assert status == "fail" and "Anchor on another chain (1)" in text, text
    # in another block than the receipt says
    status, text = check_page(browser, site.url, _anchored(site, {**real, "block": real["block"] + 1}))
    assert status == "fail" and "another block" in text, text


def test_an_unreachable_rpc_says_not_checked(browser: Any, site: Site) -> None:
    site.pin(log_key=site.log_key, rpc_url=f"http://127.0.0.1:{free_port()}/", chain_id=SEPOLIA, contract=CONTRACT)
    anchor = {
        "tree_size": site.size,
        "root": site.root.hex(),
        "chain_id": SEPOLIA,
        "contract": CONTRACT,
        "tx": "0x" + "cd" * 32,
        "block": 7,
        "block_hash": "0x" + "ef" * 32,
    }
    status, text = check_page(browser, site.url, _anchored(site, anchor))
    assert status == "partial", text
    assert "Закріплення в блокчейні НЕ перевірено" in text and "could not be reached" in text, text
    assert "Root found on chain" not in text and "server's claim" in text
    # no RPC pinned at all: said so, and the anchor is shown as the server's claim
    site.pin(log_key=site.log_key)
    status, text = check_page(browser, site.url, _anchored(site, anchor))
    assert status == "partial" and "no chain RPC configured" in text, text


def test_a_dev_chain_shows_the_warning(browser: Any, site: Site) -> None:
    dev = RpcStub(31337)
    try:
        site.pin(log_key=site.log_key, rpc_url=dev.url, contract=CONTRACT)
        anchor = dev.put_anchor(ORIGIN, site.size, site.root, CONTRACT)
        status, text = check_page(browser, site.url, _anchored(site, anchor))
    finally:
        dev.close()
    assert status == "partial", text
    assert "Root found on chain (chain 31337" in text
    assert "локальний ланцюг розробки" in text and "this anchor proves nothing" in text, text


def test_an_anchor_confirmed_on_chain(browser: Any, site: Site, chain: RpcStub) -> None:
    _pins(site, chain)
    anchor = chain.put_anchor(ORIGIN, site.size, site.root, CONTRACT)
    status, text = check_page(browser, site.url, _anchored(site, anchor))
    assert "Корінь знайдено в блокчейні (мережа 11155111" in text, text
    assert "consistent with the anchored root" in text and "proves nothing" not in text
    assert status == "partial" and "No witnesses pinned" in text, text  # the only check not made


# ---------------------------------------------------------------------------------------------- the log key


def test_a_pinned_key_other_than_the_servers_fails(browser: Any, site: Site) -> None:
    other = note.generate_signer(ORIGIN)  # same origin, another key: what a server with a swapped key would use
    site.pin(log_key=other.verifier_key())
    status, text = check_page(browser, site.url, site.receipt)
    assert status == "fail", text
    assert "Checkpoint signature invalid or by another key" in text
    assert "Сервер оголошує інший ключ журналу, ніж закріплений містом" in text
    assert key_fingerprint(other.verifier_key()) in text  # the pinned key is the one shown, not the server's


def test_without_a_pinned_key_the_page_says_the_key_came_from_the_server(browser: Any, site: Site) -> None:
    site.pin()
    status, text = check_page(browser, site.url, site.receipt)
    assert status == "partial", text
    assert "Ключ журналу взято з цього сервера" in text and "a lying server would sign anything" in text
    site.pin(log_key=site.log_key)
    status, text = check_page(browser, site.url, site.receipt)
    fp = key_fingerprint(site.log_key)
    assert f"закріплений містом, відбиток {fp}" in text, text  # the same fingerprint the city prints
    assert "взято з цього сервера" not in text


# ---------------------------------------------------------------------------------------------- witnesses


def test_a_witness_policy_not_met_fails(browser: Any, site: Site, chain: RpcStub, witnesses: Any) -> None:
    w1, w2 = witnesses
    _pins(site, chain, (w1, w2))
    anchor = chain.put_anchor(ORIGIN, site.size, site.root, CONTRACT)
    status, text = check_page(browser, site.url, _anchored(site, anchor, w1.cosign(site.body)))
    assert status == "fail" and "Політику свідків НЕ виконано: 1 з потрібних 2" in text and "missing: w2" in text, text
    # a lying witness: w2's line is over another checkpoint body; fails even where one witness would do
    lines = site.body.split("\n")
    lie = w2.cosign("\n".join([lines[0], str(int(lines[1]) + 1), *lines[2:]]))
    _pins(site, chain, (w1, w2), witness_threshold=1)
    status, text = check_page(browser, site.url, _anchored(site, anchor, w1.cosign(site.body), lie))
    assert status == "fail" and "invalid cosignature: w2.example" in text, text
    # a line by a key nobody pinned does not count
    stranger = Witness("w2.example")
    _pins(site, chain, (w1, w2))
    receipt = _anchored(site, anchor, w1.cosign(site.body), stranger.cosign(site.body))
    status, text = check_page(browser, site.url, receipt)
    assert status == "fail" and "missing: w2" in text, text


def test_everything_checked_is_a_verified_receipt(browser: Any, site: Site, chain: RpcStub, witnesses: Any) -> None:
    w1, w2 = witnesses
    _pins(site, chain, (w1, w2))
    anchor = chain.put_anchor(ORIGIN, site.size, site.root, CONTRACT)
    status, text = check_page(browser, site.url, _anchored(site, anchor, w1.cosign(site.body), w2.cosign(site.body)))
    assert status == "ok", text
    assert "Квитанція дійсна: усе перевірено" in text and "Witnesses cosigned the checkpoint: 2 of 2" in text
    # and an edited event under the same proofs still fails
    edited = copy.deepcopy(_anchored(site, anchor, w1.cosign(site.body), w2.cosign(site.body)))
    edited["event"]["data"]["identity_method"] = "bankid"
    status, text = check_page(browser, site.url, edited)
    assert status == "fail" and "подію змінено" in text, text


def test_the_receipt_says_what_it_is(browser: Any, site: Site) -> None:
    site.pin(log_key=site.log_key)
    _, text = check_page(browser, site.url, site.receipt)
    assert "Ваш підпис під петицією «Ліхтарі в парку Шевченка»" in text, text


def _pending(event: dict[str, Any]) -> dict[str, Any]:
    from ledger.envelope import canonical_bytes
    from ledger.merkle.hasher import leaf_hash

    leaf = leaf_hash(canonical_bytes(event)).hex()
    return {"format": 1, "status": "pending", "event": event, "leaf_hash": leaf, "leaf_index": 0,
            "inclusion_proof": None, "checkpoint": None, "anchor": None}  # fmt: skip


def test_an_encrypted_ballot_shows_its_tracker_never_a_choice(browser: Any, site: Site) -> None:
    tracker = "3f" * 32
    event = dict(site.receipt["event"])
    event.update(
        type="ballot.ballot_recast",
        data={
            "ballot": "00000000-0000-4000-8000-00000000b0b0",
            "voter": "cit:v1:ab",
            "district": None,
            "identity_method": "diia",
            "ciphertexts": [{"a": "secret-alpha", "b": "secret-beta"}],
            "proofs": {"options": [], "count": {}, "budget": None},
            "tracker": tracker,
        },
    )
    status, text = check_page(browser, site.url, _pending(event))
    assert status == "pending", text
    assert f"Ваш бюлетень (повторний), трекер {tracker}" in text, text
    assert "secret-alpha" not in text and "secret-beta" not in text


def test_an_anchor_of_a_larger_tree_is_checked_by_consistency_to_the_root_on_chain(
    browser: Any, tmp_path: Path, chain: RpcStub
) -> None:
    site = Site(tmp_path)
    try:
        small = site.size
        petition = site.receipt["event"]["data"]["petition"]
        with httpx.Client(base_url=site.url) as http:
            for i in range(5):
                token = DevIssuer(tmp_path).issue(f"later{i}")
                r = http.post(f"/v1/petitions/{petition}/signatures", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code in (200, 201), r.text
            site.ledger.integrate_and_checkpoint()
            big_note = http.get("/checkpoint").text
            big = int(big_note.split("\n")[1])
            big_root = base64.b64decode(big_note.split("\n")[2])
            proof = http.get("/v1/proofs/consistency", params={"from": small, "to": big}).json()["proof"]
        assert big > small and proof
        _pins(site, chain)
        anchor = {**chain.put_anchor(ORIGIN, big, big_root, CONTRACT), "consistency_proof": proof}
        status, text = check_page(browser, site.url, _anchored(site, anchor))
        assert status == "partial" and "The checkpoint is consistent with the anchored root" in text, text
        # a consistency proof that does not lead to the root the chain holds
        bad = {**anchor, "consistency_proof": ["00" * 32, *proof[1:]]}
        status, text = check_page(browser, site.url, _anchored(site, bad))
        assert status == "fail" and "Anchor is not consistent with the checkpoint" in text, text
        # the server's claim and its proof agree, but the chain holds another root of that size
        forged_root = b"\x22" * 32
        fake_chain = chain.put_anchor(ORIGIN, big, forged_root, CONTRACT, block=9)
        status, text = check_page(browser, site.url, _anchored(site, {**fake_chain, "root": big_root.hex()}))
        assert status == "fail" and "the server's claim differs from the chain" in text, text
    finally:
        site.close()


@pytest.mark.parametrize(
    ("event_type", "data", "says"),
    [
        ("petition.created", {"title": "Сквер біля школи", "text": "t"}, "Ваша петиція «Сквер біля школи»"),
        (
            "ballot.vote_cast",
            {"ballot": "00000000-0000-4000-8000-0000000000b1", "selection": ["option-secret"], "voter": "v"},
            "Ваш голос у голосуванні 00000000-0000-4000-8000-0000000000b1",
        ),
        ("kindergarten.entry_registered", {"entry": "e1", "birth_year": 2024}, "Ваша заява в черзі до дитсадка"),
        ("queue.entry_registered", {"entry": "e1", "birth_year": 2024}, "Ваша заява в черзі до дитсадка"),  # format 1
        ("housing.entry_registered", {"entry": "e2"}, "Ваша заява на квартирний облік"),
        ("kindergarten.offer_issued", {"offer": "o1", "entry": "e1"}, "Запис у черзі: kindergarten.offer_issued"),
        ("queue.offer_issued", {"offer": "o1", "entry": "e1"}, "Запис у черзі: queue.offer_issued"),
    ],
)
def test_other_receipts_say_what_they_are(
    browser: Any, site: Site, event_type: str, data: dict[str, Any], says: str
) -> None:
    site.pin(log_key=site.log_key)
    event = {**site.receipt["event"], "type": event_type, "data": data}
    status, text = check_page(browser, site.url, _pending(event))
    assert status == "pending" and says in text, text
    assert "option-secret" not in text  # a vote's choice is never shown
