"""The shared validation and DNS-check pipeline.

Pure by design: it imports only the standard library, cryptography, certifi, asn1crypto,
pyzipper and dnspython, never Slack or the database, so that the terminal, the services
and the Slack handlers all reach the same verdicts. Submodules are imported explicitly
(not re-exported here) so that `certops validate` never pays for dnspython.
"""
