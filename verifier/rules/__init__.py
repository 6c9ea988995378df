"""Step 4 (rule replay) and step 5 (actor authorisation) of the audit, from docs/domain.md.

One small module per aggregate kind (:mod:`.petitions`, :mod:`.ballots`, :mod:`.kindergarten`,
:mod:`.housing`), services and the authorisation table (:mod:`.services`), the shared model of events,
instants and stream ids (:mod:`.model`), working days (:mod:`.calendar`), the dispatcher (:mod:`.replay`) and
the audit steps (:mod:`.steps`).
"""
