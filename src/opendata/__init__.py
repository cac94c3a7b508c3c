"""Open-data publishing pipeline of Boråsregionen (Sjuhärads kommunalförbund)."""

__version__ = "0.1.0"
