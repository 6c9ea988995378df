"""The ledger's own tables (beside the event tables that eventsourcing-sqlalchemy creates)."""
