"""TLS for the live host: the handshakes of accepted and opened connections (trio.SSLStream, stdlib ssl).

After the handshake a TLS connection is a TCP connection like any other (transport/tcp.py): framed by
Content-Length, kept in the connection table, reused for replies and for requests towards the same peer.
The certificate and the verification policy come from tls_mgm's domains (transport/tls_domains.py): the
server domain of the local address (then of the client's SNI name), or the client domain of the peer.

A handshake that fails (no common version or cipher, a certificate that does not verify, plain text on a TLS
port) or does not finish in time closes that connection only; it is logged and the server goes on.
"""
from __future__ import annotations

import ssl

import trio

# OpenSIPS's handshake timeouts (100 ms by default) bound one wait of a worker that then hands the connection
# back to the reactor; a deadline that short on the whole handshake would cut off every client a few round
# trips away, so the whole handshake gets the configured time but never less than this.
HANDSHAKE_FLOOR = 5.0


class HandshakeFailed(Exception):
    """The TLS (or WebSocket) handshake of one connection failed; the message says why, for the log."""


def handshake_deadline(timeout_ms: int) -> float:
    """Seconds a handshake may take, from the configured milliseconds."""
    return max(timeout_ms / 1000, HANDSHAKE_FLOOR)


async def tls_handshake(stream: trio.abc.Stream, context: ssl.SSLContext, *, server_side: bool,
                        timeout: float) -> trio.SSLStream:
    """Wrap `stream` and run the handshake within `timeout` s; HandshakeFailed (the stream closed) if not."""
    tls = trio.SSLStream(stream, context, server_side=server_side, https_compatible=True)
    reason = None
    with trio.move_on_after(timeout) as scope:
        try:
            await tls.do_handshake()
        except trio.BrokenResourceError as exc:
            cause = exc.__cause__
            reason = _describe(cause) if cause is not None else "the peer closed the connection"
        except (trio.ClosedResourceError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
    if scope.cancelled_caught:
        reason = f"no handshake within {timeout:g} s"
    if reason is not None:
        await trio.aclose_forcefully(stream)
        raise HandshakeFailed(reason)
    return tls


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return error.reason or str(error)
    return str(error) or type(error).__name__
