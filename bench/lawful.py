"""A lawful, city-like audit bundle of about N events, for the full-audit benchmark (rule steps included).

Built with the test-only history builder of tests/verifier_rules (an independent writer of envelopes and
signed checkpoints): petition signatures, ballot votes with revotes, kindergarten registrations with offers
accepted in turn, and housing registrations. `hromada demo` writes the same kinds of events through the real
ledger, but at command speed; this writes 100k events in seconds.

Usage: python -m bench.lawful OUT_DIR N
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from tests.verifier_rules.builder import History, cit, pseudonym


def build(out: Path, n: int, seed: int = 5) -> int:
    rng = random.Random(seed)  # reproducible benchmark data, not a secret
    h = History()
    h.city()
    petitions = [h.petition(threshold=10**9, period={"days": 365}) for _ in range(20)]
    for pid in petitions:
        h.publish(pid)
    ballot = h.ballot(method={"type": "approval", "max_choices": 2}, hours=24 * 365)
    queue = h.queue(institutions=("k1",), acceptance_days=7)
    register = h.register()
    signers = voters = children = households = places = 0
    waiting: list[tuple[str, int]] = []
    while len(h.events) < n:
        x = rng.random()
        if x < 0.35:
            signers += 1
            h.sign(rng.choice(petitions), signers)
        elif x < 0.65:
            revote = voters > 0 and rng.random() < 0.1
            voter = rng.randrange(voters) if revote else voters
            voters += 0 if revote else 1
            h.vote(ballot, voter, sorted(rng.sample(["a", "b", "c"], rng.randint(1, 2))))
        elif x < 0.85:
            children += 1
            waiting.append((h.register_child(queue, children, ("k1",), 2023), children))
            if children % 8 == 0:  # a place frees up: offered to the first waiting child, who accepts
                places += 1
                entry, who = waiting.pop(0)
                offer = h.offer(queue, entry, place=f"p{places}")
                h.answer(queue, offer, entry, "queue.offer_accepted", cit(pseudonym("cit", f"parent{who}")))
        else:
            households += 1
            h.register_household(register, households)
    h.write(out)
    return len(h.events)


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), int(sys.argv[2])))
