"""A scored collection of loops: scan folders into SQLite (locally or on Ray) and explore it in a browser."""
