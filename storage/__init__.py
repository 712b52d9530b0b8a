"""The record: SQLModel tables, queries and Alembic migrations (no Slack here).

See ../shared/DESIGN.md for what this layer may import. Modules:
`models` (tables and enums), `types` (UTCDateTime, utcnow), `db` (Database, URL rules),
`errors` (DatabaseUnavailable, NameTaken, EnvironmentBusy, MigrationError), `queries`
(the questions the bot asks, record_audit), `tables` (the certificate and audit tables
in SQLAlchemy Core, checked against `models`), `reading` / `writing` (the query layer's
Core reads and writes, for the commands that must start without the ORM), `enums`,
`migrate` (upgrade, current_revision, head_revision), `migrations/` (the packaged
Alembic scripts).
"""
