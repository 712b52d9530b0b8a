"""The process rules: submit, review, assign, tickets, renewals, audit.

See ../shared/DESIGN.md for what this layer may import. Handlers and the CLI call these
functions and render their results; they never re-implement a rule. Every function takes
a `ServiceContext` (database, clock, options) and, for changes, an `Actor`; a refusal is
a `ServiceError` with a stable `code`.
"""
