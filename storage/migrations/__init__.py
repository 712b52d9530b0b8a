"""Alembic migrations, shipped inside the package (see storage/migrate.py to run them)."""
