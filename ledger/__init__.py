"""The ledger: event store, RFC 9162 Merkle log over the notification log, signed checkpoints."""
