"""Transport: what stands between a socket and a route. Bodies and heads within their limits (bodies.py,
headlimit.py) and `hromada serve --fronts N`: the front
processes (front.py), how the writer serves beside them (fronts.py), its command server (commands.py) and their
wire format (wire.py). The group commit of concurrent writes is the ledger's (ledger/groupcommit.py): the demo
shares it."""
