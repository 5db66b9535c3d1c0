"""`python -m talia`, the same as the `talia` command."""

from talia.cli import main

main()
