"""The Slack layer, by feature: commands/ (`/cert`), home/ (the App Home), uploads/ (files
in a DM), validate/ and assign/ (the forms), warnings/ (expiry warnings), and common/
(what they share). See ../shared/DESIGN.md for what this layer may import;
tests/test_layers.py enforces it."""
