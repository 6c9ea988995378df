"""Stand-in for the unbuildable `pysha3` package, put on sys.path only by bench/merkle.py.

merkletools 1.0.3 does `import sha3` just to register SHA-3 in hashlib; Python >= 3.6 has SHA-3 in
hashlib already, and the benchmark only uses SHA-256, so an empty module is enough.
"""
