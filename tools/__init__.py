"""Repository tools: tools/lockfile.py (requirements.lock)."""
