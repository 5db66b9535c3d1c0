"""Assistant profiles: what an assistant says and does, loaded from the database at run time."""
