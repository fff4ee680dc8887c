"""opensips-py: a drop-in OpenSIPS in Python."""
__version__ = "0.1.0"
