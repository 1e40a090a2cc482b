"""Mergeable metric states, their merges and the compact metrics a user reads."""
