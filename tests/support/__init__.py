"""What the tests share: helpers (PKIs, servers on loopback, the Slack harness) and the
fixtures `tests/conftest.py` registers. Test modules import from here, never from one another
(tests/test_test_layout.py checks it).
"""
