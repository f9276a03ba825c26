"""Collect: case files on disk -> validated `Suite` and `Case` objects."""
