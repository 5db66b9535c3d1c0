"""Where the repository keeps what the command needs."""

from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR: Final = REPO_ROOT / "supabase" / "migrations"
# The database as it is today, one file per aggregate (`talia db check`, `talia db diff`).
SCHEMAS_DIR: Final = REPO_ROOT / "supabase" / "schemas"
# Git-ignored: the embedded PostgreSQL's data for `talia dev`.
LOCAL_DATA_DIR: Final = REPO_ROOT / ".talia"
