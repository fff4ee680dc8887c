"""The interpreter: the config compiled into closures, the pseudo-variables and transformations it reads.

Importing the package registers the core pseudo-variables (pv_core) in pvars.CORE_HANDLERS, so a
compiler built from it always sees the whole core table.
"""
from opensips_py.script import pv_core  # noqa: F401  (registers the core PV handlers)
