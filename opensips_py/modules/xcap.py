"""xcap: storage of XCAP documents (pres-rules, resource lists) in a database for the presence modules."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="xcap",
    doc="No script functions: an API over the `xcap` table used by presence_xml, rls and xcap_client.",
    params=(
        ModParam("db_url", ParamType.STR),
        ModParam("xcap_table", ParamType.STR, "xcap"),
        ModParam("integrated_xcap_server", ParamType.INT, 0,
                 doc="The documents are written by an XCAP server sharing the database."),
    ),
    deps=(
        Dependency(("db_*",), doc="Declared DEP_ABORT."),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402


class Module(ModuleBase):
    """The xcap table behind db_url (version 4), and the one query presence_xml makes of it."""

    exports = EXPORTS

    def init(self) -> None:
        from opensips_py.db import DatabaseError, open_database
        from opensips_py.modules.presence import tables  # noqa: F401  (the xcap table schema)
        url = self.db_url()
        self.table = str(self.param("xcap_table"))
        self.db = None
        if not url:
            raise ModuleInitError("xcap: db_url is mandatory")
        try:
            self.db = open_database(self.core, str(url), "xcap")
            if self.table == "xcap":
                self.db.ensure_tables(["xcap"])
            self.db.check_version(self.table, 4)
        except DatabaseError as exc:
            raise ModuleInitError(f"xcap: {exc}") from exc

    def document(self, user: str, domain: str, doc_type: int) -> bytes | None:
        """The newest stored document of that type for user@domain, or None."""
        rows = self.db.query(self.table, ["doc"], {"username": user, "domain": domain, "doc_type": doc_type},
                             order_by="id DESC", limit=1)
        if not rows:
            return None
        doc = rows[0]["doc"]
        return doc.encode("utf-8") if isinstance(doc, str) else bytes(doc)
