"""Transport: what stands between a socket and a route. Bodies and heads within their limits (bodies.py,
headlimit.py), the group commit of concurrent writes (groupcommit.py), and `hromada serve --fronts N`: the front
processes (front.py), how the writer serves beside them (fronts.py), its command server (commands.py) and their
wire format (wire.py)."""
