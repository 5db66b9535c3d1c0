"""Clients of the outside services, configured from settings with timeouts."""
