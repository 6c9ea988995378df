"""City-owned rule sets (``ruleset.*``): versioned statutes a ``rules:admin`` service publishes before use."""
