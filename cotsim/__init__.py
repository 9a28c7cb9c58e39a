"""The ``cotsim`` command line. It is thin: every command calls the library."""
__version__ = "0.1.0"
