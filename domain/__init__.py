"""City rules as event-sourced aggregates: petitions, ballots, queues, identities. Pure Python."""
