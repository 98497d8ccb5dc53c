# Kept free of imports, as Mathesar's is, so the packaging reads the version without Django.
__version__ = "0.10.1+django"
