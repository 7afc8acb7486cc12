"""pinwheel-demo: a small program that exercises its dependencies."""

__version__ = "0.1.0"
