"""presence_xml: the presence, presence.winfo and dialog;sla event packages (PIDF XML) for presence."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="presence_xml",
    doc="No script functions: registers XML event packages with presence and authorizes watchers from "
        "XCAP pres-rules (xcap module or an XCAP server).",
    params=(
        ModParam("force_active", ParamType.INT, 0, doc="Accept every watcher without checking pres-rules."),
        ModParam("pidf_manipulation", ParamType.INT, 0, doc="Merge XCAP pidf-manipulation documents."),
        ModParam("xcap_server", ParamType.STR, repeatable=True, doc="An XCAP server address (one per setting)."),
        ModParam("pres_rules_auid", ParamType.STR, doc="XCAP AUID of pres-rules documents."),
        ModParam("pres_rules_filename", ParamType.STR, doc="XCAP file name of pres-rules documents."),
        ModParam("generate_offline_body", ParamType.INT, 1, doc="Build an offline PIDF when a PUBLISH expires."),
    ),
    deps=(
        Dependency(("presence",)),
        Dependency(("signaling",)),
        Dependency(("xcap",)),
    ),
)
