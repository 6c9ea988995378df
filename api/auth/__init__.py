"""Who a request is: service API keys (keys.py), citizens' OpenID Connect ID tokens and the development issuer
(tokens.py), the principals they become (principals.py), the per-principal rate limits (ratelimit.py) and the
FastAPI dependencies that identify, limit and require them (deps.py)."""
