"""rest_client: HTTP requests (libcurl) from the script, blocking or async."""
from __future__ import annotations

from opensips_py.modules.exports import (
    Arg, ArgKind, Function, ModParam, ModuleExports, ParamType, Transformation, VersionSpan,
)

EXPORTS = ModuleExports(
    name="rest_client",
    doc="rest_get/rest_post/rest_put return 1 on a 2xx… any HTTP reply (the code goes to retcode_pv), "
        "negative on transport errors; inside async() the message is suspended while the transfer runs.",
    functions=(
        Function(
            "rest_get",
            (Arg("url"), Arg("body_pv", ArgKind.VAR), Arg("ctype_pv", ArgKind.VAR, optional=True),
             Arg("retcode_pv", ArgKind.VAR, optional=True)),
            is_async=True, doc="GET url; the reply body, Content-Type and HTTP code into variables.",
        ),
        Function(
            "rest_post",
            (Arg("url"), Arg("send_body"), Arg("send_ctype", optional=True), Arg("recv_body_pv", ArgKind.VAR),
             Arg("recv_ctype_pv", ArgKind.VAR, optional=True), Arg("retcode_pv", ArgKind.VAR, optional=True)),
            is_async=True, doc="POST send_body (Content-Type send_ctype, default text/plain).",
        ),
        Function(
            "rest_put",
            (Arg("url"), Arg("send_body"), Arg("send_ctype", optional=True), Arg("recv_body_pv", ArgKind.VAR),
             Arg("recv_ctype_pv", ArgKind.VAR, optional=True), Arg("retcode_pv", ArgKind.VAR, optional=True)),
            is_async=True, doc="PUT, as rest_post.",
        ),
        Function("rest_append_hf", (Arg("txt"),), doc="Add a header to the next request of this process."),
        Function("rest_init_client_tls", (Arg("tls_client_domain"),),
                 doc="Use a tls_mgm client domain's certificate for the next HTTPS request."),
    ),
    params=(
        ModParam("curl_timeout", ParamType.INT, 20, doc="Seconds a whole transfer may take."),
        ModParam("connection_timeout", ParamType.INT, 20, doc="Seconds to connect."),
        ModParam("connect_poll_interval", ParamType.INT, 20, doc="Milliseconds between async connect polls."),
        ModParam("max_async_transfers", ParamType.INT, 100, doc="Async transfers run at once per process."),
        ModParam("max_transfer_size", ParamType.INT, 0, versions=VersionSpan(until="3.3"),
                 doc="Largest reply body in KB (0: no limit)."),
        ModParam("max_transfer_size", ParamType.INT, 10240, versions=VersionSpan(since="3.3"),
                 doc="Largest reply body in KB."),
        ModParam("ssl_verifypeer", ParamType.INT, 1, doc="Verify the server's certificate."),
        ModParam("ssl_verifyhost", ParamType.INT, 1, doc="Check the certificate names the host."),
        ModParam("ssl_capath", ParamType.STR, doc="Directory of CA certificates."),
        ModParam("curl_http_version", ParamType.INT, 0, doc="libcurl CURL_HTTP_VERSION_* value (0: default)."),
        ModParam("enable_expect_100", ParamType.INT, 0, doc="Send Expect: 100-continue on POST/PUT."),
        ModParam("no_concurrent_connects", ParamType.INT, 0, versions=VersionSpan(since="3.4"),
                 doc="One connect at a time per host (others wait or fail)."),
        ModParam("curl_conn_lifetime", ParamType.INT, 0, versions=VersionSpan(since="3.4"),
                 doc="Seconds a kept-alive connection may be reused (0: libcurl default)."),
    ),
    transformations=(
        Transformation("rest.escape"),
        Transformation("rest.unescape"),
    ),
)
