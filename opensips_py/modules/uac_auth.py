"""uac_auth: the credential store that uac's uac_auth() (and b2b) answer challenges with."""
from __future__ import annotations

from opensips_py.modules.exports import ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="uac_auth",
    doc="Credentials for upstream authentication; no script functions (load_uac_auth is an API).",
    params=(
        ModParam(
            "credential", ParamType.STR, None, repeatable=True,
            doc="\"user:realm:password\"; the password may be 0x + 32 hex digits of HA1.",
        ),
        ModParam("auth_username_avp", ParamType.STR, None, doc="All three AVPs or none."),
        ModParam("auth_realm_avp", ParamType.STR, None),
        ModParam("auth_password_avp", ParamType.STR, None),
    ),
)
