"""Console mode: the real Bolt app over a local stand-in for Slack, driven from a terminal."""
