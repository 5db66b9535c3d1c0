"""The `talia` command: run TalIA locally and operate its database."""
