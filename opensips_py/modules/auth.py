"""auth: digest authentication framework (RFC 8760/7616): challenges, nonces, credential checks."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, R, Arg, Dependency, Function, ModParam, ModuleExports, ParamType,
)

QOP_TYPES = ("auth", "auth-int")
# Digest algorithms (lib/digest_auth dauth_fixup_algorithms; an algorithm missing from the build is rejected).
DIGEST_ALGORITHMS = ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess")

_CHALLENGE_ARGS = (
    Arg("realm"),
    Arg("qop", optional=True, choices=QOP_TYPES),
    Arg("algorithms", optional=True, choices=DIGEST_ALGORITHMS),
)

EXPORTS = ModuleExports(
    name="auth",
    doc="Digest authentication: challenges (401/407 sent through signaling) and password checks from "
        "script variables; auth_db adds the database-backed checks.",
    functions=(
        Function(
            "www_challenge", _CHALLENGE_ARGS, routes=R,
            doc="Sends 401 and returns 0 (the script stops). realm \"\" = To domain (REGISTER) or From "
                "domain. qop and algorithms are comma lists; C: algorithms exist since 3.2.",
        ),
        Function("proxy_challenge", _CHALLENGE_ARGS, routes=R, doc="Sends 407 and returns 0."),
        Function(
            "pv_www_authorize", (Arg("realm"),), routes=R,
            doc="Password from password_spec. 1 ok; -1 no user; -2 bad password; -3 stale nonce; "
                "-4 no credentials; -5 error.",
        ),
        Function("pv_proxy_authorize", (Arg("realm"),), routes=R),
        Function("consume_credentials", (), routes=R),
        Function("is_rpid_user_e164", (), routes=R),
        Function("append_rpid_hf", (Arg("prefix", optional=True), Arg("suffix", optional=True)), routes=R | F | B),
    ),
    params=(
        ModParam("secret", ParamType.STR, None, doc="Random when unset; 4.0 requires exactly 32 characters."),
        ModParam("nonce_expire", ParamType.INT, 30),
        ModParam("disable_nonce_check", ParamType.INT, 0),
        ModParam("calculate_ha1", ParamType.INT, 0),
        ModParam("realm_prefix", ParamType.STR, ""),
        ModParam("rpid_prefix", ParamType.STR, ""),
        ModParam("rpid_suffix", ParamType.STR, ";party=calling;id-type=subscriber;screen=yes"),
        ModParam("rpid_avp", ParamType.STR, "$avp(rpid)"),
        ModParam("username_spec", ParamType.STR, None),
        ModParam("password_spec", ParamType.STR, None),
    ),
    deps=(
        Dependency(("signaling",), doc="DEP_ABORT: challenges are sent through signaling."),
    ),
)
