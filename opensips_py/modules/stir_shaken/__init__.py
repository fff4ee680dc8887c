"""stir_shaken: STIR/SHAKEN caller-ID signing and verification (RFC 8224/8225/8588 Identity header).

The exports table is here; the implementation is in this package: module.py (script functions, $identity,
MI), passport.py (the PASSporT's canonical form, ES256, Identity header parsing), certs.py (certificates,
the trusted-CA store and CRLs). docs/stir-shaken.md describes it.
"""
from __future__ import annotations

from opensips_py.modules.exports import (
    R, Arg, ArgKind, Function, MICommand, ModParam, ModuleExports, ParamType, PseudoVar, VersionSpan,
)

EXPORTS = ModuleExports(
    name="stir_shaken",
    doc="The authentication service adds an Identity header (a PASSporT signed with the provider's key); "
        "the verification service fetches nothing itself: the script gives the certificate (from x5u) to "
        "stir_shaken_verify().",
    functions=(
        Function(
            "stir_shaken_auth",
            (Arg("attest"), Arg("origid"), Arg("cert"), Arg("pkey"), Arg("x5u"), Arg("orig", optional=True),
             Arg("dest", optional=True)),
            routes=R, versions=VersionSpan(until="3.3"),
            doc="Sign: attest A, B or C; origid a UUID; cert and pkey PEM text; x5u the certificate URL.",
        ),
        Function(
            "stir_shaken_auth",
            (Arg("attest"), Arg("origid"), Arg("cert"), Arg("pkey"), Arg("x5u"), Arg("orig", optional=True),
             Arg("dest", optional=True), Arg("out", ArgKind.VAR, optional=True)),
            routes=R, versions=VersionSpan(since="3.3"),
            doc="Sign (see above); with out, the Identity value goes to a variable instead of the request.",
        ),
        Function(
            "stir_shaken_verify",
            (Arg("cert"), Arg("err_code", ArgKind.VAR), Arg("err_reason", ArgKind.VAR),
             Arg("orig", optional=True), Arg("dest", optional=True)),
            routes=R, doc="Verify the Identity header with cert; on failure the SIP code and reason to send.",
        ),
        Function("stir_shaken_check", (), routes=R, doc="Check the Identity header's form and freshness only."),
        Function("stir_shaken_check_cert", (Arg("cert"),), routes=R,
                 doc="1 if now is inside the certificate's validity period, -2 if not."),
        Function("stir_shaken_disengagement", (Arg("token"),), routes=R, versions=VersionSpan(since="3.5"),
                 doc="Add a disengagement Identity header (RFC 8588 div/opt) with token."),
    ),
    params=(
        ModParam("auth_date_freshness", ParamType.INT, 60, doc="Seconds the Date header may lag when signing."),
        ModParam("verify_date_freshness", ParamType.INT, 60, doc="Seconds a verified iat/Date may be old."),
        ModParam("ca_list", ParamType.STR, doc="File of trusted CA certificates."),
        ModParam("ca_dir", ParamType.STR, doc="Directory of trusted CA certificates."),
        ModParam("crl_list", ParamType.STR, doc="File of revocation lists."),
        ModParam("crl_dir", ParamType.STR, doc="Directory of revocation lists."),
        ModParam("e164_strict_mode", ParamType.INT, 0, doc="Require E.164 numbers in From/To."),
        ModParam("e164_max_length", ParamType.INT, 15, doc="Longest number accepted as E.164."),
        ModParam("require_date_hdr", ParamType.INT, 1, doc="Reject requests without a Date header."),
    ),
    pvars=(
        PseudoVar("identity", takes_arg=True,
                  doc="$identity(header|x5u|attest|origid|iat|orig|dest|…): parts of the Identity header."),
    ),
    mi=(
        MICommand("stir_shaken_ca_reload", (), versions=VersionSpan(since="3.5"),
                  alias_4_0="stir_shaken:ca_reload"),
        MICommand("stir_shaken_crl_reload", (), versions=VersionSpan(since="3.5"),
                  alias_4_0="stir_shaken:crl_reload"),
    ),
)

from opensips_py.modules.stir_shaken.module import Module  # noqa: E402

__all__ = ["EXPORTS", "Module"]
