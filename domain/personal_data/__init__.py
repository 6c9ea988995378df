"""Erasure of personal data (``personal_data.*``): the log records that a vault subject was crypto-shredded, and why."""
