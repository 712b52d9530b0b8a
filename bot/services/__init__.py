"""See ../shared/DESIGN.md for what this layer may import."""
