"""TalIA staff console: who the staff are, and the API they take conversations over with."""
