"""The auditor's witness policy: k of n named witnesses must have cosigned the checkpoint (:mod:`.policy`)."""
