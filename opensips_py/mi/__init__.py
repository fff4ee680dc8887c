"""The management interface: OpenSIPS's MI commands over JSON-RPC 2.0 (mi_http, mi_fifo), see docs/mi.md.

`MIError(code, message)` is what a command handler raises for an error reply; `MIRegistry` holds the
commands; `build_registry(host, modules)` makes one with the core commands and the modules' own.
"""
from opensips_py.mi.errors import MIError
from opensips_py.mi.host import MIHost, build_registry, registry_of
from opensips_py.mi.params import recipes
from opensips_py.mi.registry import MICommand, MIRegistry

__all__ = ["MIError", "MIHost", "MICommand", "MIRegistry", "build_registry", "recipes", "registry_of"]
