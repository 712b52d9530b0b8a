"""The head revision of the packaged migrations, as a constant.

`certops` commands compare it with the database's `alembic_version` (one query) and import
Alembic only when they must migrate: importing it cost each record command about a
quarter of a second (issue 16). tests/test_cli_startup_cost.py checks it against the
migration scripts, so a new migration without this line changed fails there.
"""

HEAD_REVISION = "0007_served_probes"
