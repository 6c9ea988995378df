"""Kindergarten queue (``kindergarten.*``; envelope format 1 wrote ``queue.*``): entries, benefits, offers in turn."""
