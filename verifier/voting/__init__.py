"""Encrypted ballots, the verifier's side (docs/voting.md, docs/voting-verifier.md): written from the spec, not from
``domain/ballots/crypto/`` (the verifier must not share the ledger's bugs; import-linter keeps it apart)."""
