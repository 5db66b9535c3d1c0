"""Async repositories over the SQL write API: one function call per write, typed rows back."""
