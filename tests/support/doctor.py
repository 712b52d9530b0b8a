"""The doctor's tests' identities: the token, signing secret, admin and channel the Web
API stand-in knows (tests/test_doctor.py, tests/test_doctor_installed.py)."""

from __future__ import annotations

TOKEN = "xoxb-doctor-test"
SECRET = "0123456789abcdef0123456789abcdef"
ADMIN = "UADMIN001"
CHANNEL = "C0CERTS01"
