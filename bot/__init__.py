"""certops: TLS certificates and hostnames on OutSystems Cloud, from Slack and the terminal.

Kept empty on purpose: `certops validate` imports this package and must stay fast, so
nothing heavy (Slack, the database, DNS) may be imported here.
"""
