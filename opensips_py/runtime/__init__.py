"""The runtime: a config turned into a running proxy.

`ProxyCore` (core.py) is sans-IO: bytes, the receiving socket and the time in; bytes to send and timers out.
Two hosts drive it: the live one in opensips_py.transport (trio sockets, the wall clock) and the virtual one in
virtual.py (an in-memory network and a manual clock, for tests and replay). See docs/runtime.md.
"""
from opensips_py.runtime.core import CORE_STATS, ProxyCore, StartupFailure

__all__ = ["CORE_STATS", "ProxyCore", "StartupFailure"]
