"""Block Kit built by pure functions: every message and view is checked by slack_sdk.models."""
