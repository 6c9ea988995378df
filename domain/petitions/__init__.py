"""Petitions (``petition.*``): a citizen's petition, its signatures, the threshold and the official response."""
