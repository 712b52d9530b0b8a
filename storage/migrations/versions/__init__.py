"""Revision scripts, oldest first; each names the one it follows."""
