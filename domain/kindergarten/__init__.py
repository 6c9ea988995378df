"""Kindergarten queue (``queue.*``, the prefix predates the other queues): entries, benefits, offers in turn."""
