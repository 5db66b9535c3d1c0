"""Repository-level checks: images, compose, the `talia` command."""
