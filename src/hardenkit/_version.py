"""The version, kept in one place for hatch and for hardenkit.__version__."""

__version__ = "0.1.0.dev0"
