"""Ballots (``ballot.*``): polls, local votes and participatory budgets; one vote stream per voter and ballot."""
