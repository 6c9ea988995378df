"""Housing register (``housing.*``): the general, first-priority and out-of-turn lists, removals, allocations."""
