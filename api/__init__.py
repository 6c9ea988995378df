"""HTTP API for city services, citizens and auditors."""
