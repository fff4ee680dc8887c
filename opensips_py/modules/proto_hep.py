"""proto_hep: HEP (Homer encapsulation) transport, used to mirror SIP and logs to a capture server."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, Arg, Dependency, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="proto_hep",
    doc="HEP v1/v2/v3 over UDP/TCP (listeners `socket=hep_udp:…`/`hep_tcp:…`), and the trace API the "
        "tracer module and the proto_* `trace_destination` params use. Destinations are named `hep_id`s.",
    functions=(
        Function(
            "correlate",
            (Arg("hep_id"), Arg("type1"), Arg("correlation1"), Arg("type2"), Arg("correlation2")),
            routes=R | F | O | B | L,
            doc="Send a HEP packet tying two correlation ids together (the two types must differ).",
        ),
    ),
    params=(
        ModParam("hep_id", ParamType.STR, repeatable=True,
                 doc='A destination: "[name] host:port; transport=tcp|udp; version=1|2|3" (one per setting).'),
        ModParam("hep_port", ParamType.INT, 9060, doc="Port of a HEP listener declared without one."),
        ModParam("hep_send_timeout", ParamType.INT, 100, doc="Milliseconds a blocking TCP send may take."),
        ModParam("hep_max_msg_chunks", ParamType.INT, 32,
                 doc="Reads allowed to assemble one HEP message over TCP."),
        ModParam("hep_async", ParamType.INT, 1, doc="Non-blocking TCP connects and writes."),
        ModParam("hep_async_max_postponed_chunks", ParamType.INT, 32,
                 doc="Writes queued on a connection before it is closed."),
        ModParam("hep_async_local_connect_timeout", ParamType.INT, 100, versions=VersionSpan(until="4.0"),
                 doc="Milliseconds a worker waits for a connect before handing it over (dropped in 4.0)."),
        ModParam("hep_async_local_write_timeout", ParamType.INT, 10,
                 doc="Milliseconds a worker tries a write before queueing it."),
        ModParam("hep_capture_id", ParamType.INT, 1, doc="Capture agent id sent in HEP v2/v3 (16 bits)."),
        ModParam("compressed_payload", ParamType.INT, 0,
                 doc="Compress the payload of HEP v3 packets (needs the compression module)."),
        ModParam("homer5_on", ParamType.INT, 1,
                 doc="Non-zero: HOMER 5 plain-text payloads; 0: HOMER 6 JSON payloads."),
        ModParam("homer5_delim", ParamType.STR, ":", doc="Separator of payload parts in HOMER 5 format."),
        ModParam("hep_max_retries", ParamType.INT, 5, versions=VersionSpan(since="3.6"),
                 doc="Failed TCP connects to a destination before it is put on cooldown."),
        ModParam("hep_retry_cooldown", ParamType.INT, 3600, versions=VersionSpan(since="3.6"),
                 doc="Seconds to wait before retrying a destination that reached hep_max_retries."),
    ),
    deps=(
        Dependency(("compression",), when_param="compressed_payload", unless_values=(0,)),
    ),
)
