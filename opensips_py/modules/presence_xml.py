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


# ------------------------------------------------------------------------------------------------ implementation

import hashlib  # noqa: E402
from xml.dom import minidom  # noqa: E402
from xml.parsers.expat import ExpatError  # noqa: E402

from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402

PIDF_NS = "urn:ietf:params:xml:ns:pidf"
DM_NS = "urn:ietf:params:xml:ns:pidf:data-model"
PRES_RULES, OMA_PRES_RULES = 1 << 1, 1 << 5  # xcap doc types (modules/xcap/doc.h)
SH_ACTIONS = {"block": 0, "confirm": 10, "polite-block": 20, "allow": 30}  # xcap_auth.h


def parse_xml(body: bytes) -> minidom.Document | None:
    """The document, or None when the body is not well-formed XML (xmlParseMemory() failing)."""
    try:
        return minidom.parseString(body)
    except (ExpatError, ValueError):
        return None


def dump(doc_root: minidom.Element) -> bytes:
    """xmlDocDumpMemory()'s shape: the XML declaration, the root, a final newline."""
    return ('<?xml version="1.0"?>\n' + doc_root.toxml() + "\n").encode("utf-8")


def _elements(node) -> list[minidom.Element]:
    return [c for c in node.childNodes if c.nodeType == c.ELEMENT_NODE]


def _first(doc, local_name: str):
    """xmlDocGetNodeByName(): the first element of that local name, anywhere."""
    found = doc.getElementsByTagNameNS("*", local_name)
    return found[0] if found else None


def _ns_declarations(element: minidom.Element) -> dict[str, str]:
    return {name: value for name, value in element.attributes.items() if name.startswith("xmlns:")}


def offline_body(body: bytes) -> bytes | None:
    """presence_offline_body(): the presence root with its first tuple holding only its status, the basic
    status closed."""
    doc = parse_xml(body)
    if doc is None:
        return None
    basic, tuple_node, status, root = (_first(doc, n) for n in ("basic", "tuple", "status", "presence"))
    if basic is None or tuple_node is None or status is None or root is None:
        return None
    for child in list(basic.childNodes):
        basic.removeChild(child)
    basic.appendChild(doc.createTextNode("closed"))
    new_root = root.cloneNode(False)
    new_tuple = tuple_node.cloneNode(False)
    new_root.appendChild(new_tuple)
    new_tuple.appendChild(status.cloneNode(True))
    return dump(new_root)


def aggregate_pidf(user: str, domain: str, bodies: list[bytes]) -> bytes | None:
    """agregate_presence_xmls(): one PIDF document from several publications, the newest first; tuples,
    notes, persons, devices and other elements in that order, an id used twice kept from the newest."""
    docs = [d for d in (parse_xml(b) for b in bodies if b) if d is not None]
    if len(docs) != len([b for b in bodies if b]):
        return None
    if not docs:
        return None
    groups: dict[str, list[minidom.Element]] = {k: [] for k in ("tuple", "note", "person", "device", "other")}
    ids: set[str] = set()
    declarations: dict[str, str] = {}
    for doc in reversed(docs):
        root = doc.documentElement
        if root.localName != "presence" or root.namespaceURI != PIDF_NS:
            continue
        for name, value in _ns_declarations(root).items():
            declarations.setdefault(name, value)
        for node in _elements(root):
            kind = "other"
            if node.namespaceURI == PIDF_NS and node.localName in ("tuple", "note"):
                kind = node.localName
            elif node.namespaceURI == DM_NS and node.localName in ("person", "device"):
                kind = node.localName
            if kind in ("tuple", "person", "device"):
                node_id = node.getAttribute("id")
                if not node_id:
                    return None
                if node_id in ids:
                    continue
                ids.add(node_id)
            groups[kind].append(node)
    out = minidom.Document()
    root = out.createElementNS(PIDF_NS, "presence")
    root.setAttribute("xmlns", PIDF_NS)
    for name, value in declarations.items():
        root.setAttribute(name, value)
    root.setAttribute("entity", f"sip:{user}@{domain}")
    for kind in ("tuple", "note", "person", "device", "other"):
        for node in groups[kind]:
            root.appendChild(out.importNode(node, True))
    return dump(root)


def _text(node) -> str:
    return "".join(c.data for c in node.childNodes if c.nodeType == c.TEXT_NODE).strip() if node else ""


def _rule_matches(rule: minidom.Element, watcher: str, watcher_domain: str) -> bool:
    """IETF common-policy (RFC 4745) conditions: none means every watcher; identity <one id>, <many
    domain> with <except>."""
    conditions = [c for c in _elements(rule) if c.localName == "conditions"]
    if not conditions or not _elements(conditions[0]):
        return True
    for identity in (c for c in _elements(conditions[0]) if c.localName == "identity"):
        for node in _elements(identity):
            if node.localName == "one" and node.getAttribute("id") == watcher:
                return True
            if node.localName == "many":
                domain = node.getAttribute("domain")
                if domain and domain != watcher_domain:
                    continue
                excepted = any(e.localName == "except" and (e.getAttribute("id") == watcher or
                                                           e.getAttribute("domain") == watcher_domain)
                               for e in _elements(node))
                if not excepted:
                    return True
    return False


def sub_handling(rules_doc: bytes, watcher: str, watcher_domain: str) -> str | None:
    """The sub-handling of the matching rule with the most permissive action (get_rule_node), or None."""
    doc = parse_xml(rules_doc)
    if doc is None:
        return None
    best, best_value = None, -1
    for rule in doc.getElementsByTagNameNS("*", "rule"):
        if not _rule_matches(rule, watcher, watcher_domain):
            continue
        actions = [a for a in _elements(rule) if a.localName == "actions"]
        handling = [h for h in _elements(actions[0]) if h.localName == "sub-handling"] if actions else []
        if not handling:
            continue
        action = _text(handling[0])
        value = SH_ACTIONS.get(action, -1)
        if value > best_value:
            best, best_value = action, value
    return best


def winfo_xml(resource: str, package: str, watchers: list, version: int, full: bool) -> bytes:
    """create_winfo_xml(): the watcherinfo document (RFC 3857) for a presentity's watchers."""
    from opensips_py.modules.presence.subscriptions import STATUS_NAMES
    out = minidom.Document()
    root = out.createElement("watcherinfo")
    root.setAttribute("xmlns", "urn:ietf:params:xml:ns:watcherinfo")
    root.setAttribute("version", str(version))
    root.setAttribute("state", "full" if full else "partial")
    listing = out.createElement("watcher-list")
    listing.setAttribute("resource", resource)
    listing.setAttribute("package", package)
    root.appendChild(listing)
    for w in watchers:
        node = out.createElement("watcher")
        node.setAttribute("status", STATUS_NAMES.get(w.status, "pending"))
        node.setAttribute("id", hashlib.md5(f"{w.callid}{w.from_tag}".encode()).hexdigest()[:16])
        node.setAttribute("event", "subscribe")
        node.appendChild(out.createTextNode(f"sip:{w.from_user}@{w.from_domain}"))
        listing.appendChild(node)
    return dump(root)


class Module(ModuleBase):
    """Registers presence and presence.winfo with the presence module (xml_add_events)."""

    exports = EXPORTS

    def init(self) -> None:
        from opensips_py.modules.presence.events import PUBL_TYPE, WINFO_TYPE, EventPackage
        presence = (getattr(self.core, "modules", {}) or {}).get("presence")
        if presence is None or not callable(getattr(presence, "add_event", None)):
            raise ModuleInitError("presence_xml: the presence module must be loaded before it")
        self.presence = presence
        self.force_active = self.int_param("force_active")
        self.generate_offline_body = self.int_param("generate_offline_body")
        self.pidf_manipulation = self.int_param("pidf_manipulation")
        self.xcap = (getattr(self.core, "modules", {}) or {}).get("xcap")
        if self.xcap is None and not self.force_active:
            self.core.logger.warning("presence_xml: no xcap module: every watcher stays pending", "presence_xml")
        self.rules_doc_type = OMA_PRES_RULES if self.param("pres_rules_auid") == \
            "org.openmobilealliance.pres-rules" else PRES_RULES
        presence.add_event(EventPackage(
            name="presence", content_type="application/pidf+xml", type=PUBL_TYPE, req_auth=True,
            check_publish=self.check_publish, aggregate=self.aggregate, rules_document=self.rules_document,
            auth_status=self.watcher_allowed))
        presence.add_event(EventPackage(
            name="presence.winfo", content_type="application/watcherinfo+xml", type=WINFO_TYPE,
            winfo_body=winfo_xml))

    # xml_publ_handl()
    @staticmethod
    def check_publish(body: bytes) -> tuple[int, str] | None:
        return None if parse_xml(body) is not None else (415, "Unsupported media type")

    # presence_agg_nbody()
    def aggregate(self, user: str, domain: str, bodies: list[bytes], offline_index: int) -> bytes | None:
        bodies = list(bodies)
        if not bodies:
            return None
        if 0 <= offline_index < len(bodies) and self.generate_offline_body:
            offline = offline_body(bodies[offline_index])
            if offline is None:
                return None
            bodies[offline_index] = offline
        return aggregate_pidf(user, domain, bodies)

    # pres_get_rules_doc(): the pres-rules document of the presentity from the xcap table
    def rules_document(self, user: str, domain: str) -> bytes | None:
        if self.force_active or self.xcap is None or not callable(getattr(self.xcap, "document", None)):
            return None
        return self.xcap.document(user, domain, self.rules_doc_type)

    # pres_watcher_allowed()
    def watcher_allowed(self, subs) -> None:
        from opensips_py.modules.presence.subscriptions import ACTIVE, PENDING, TERMINATED
        if self.force_active:
            subs.status, subs.reason = ACTIVE, ""
            return
        if subs.rules_doc is None:
            subs.status, subs.reason = PENDING, ""
            return
        action = sub_handling(subs.rules_doc, f"sip:{subs.from_user}@{subs.from_domain}", subs.from_domain)
        if action is None:
            if subs.status != PENDING:
                subs.status, subs.reason = TERMINATED, "deactivated"
            return
        subs.status, subs.reason = {
            "block": (TERMINATED, "rejected"), "confirm": (PENDING, ""),
            "polite-block": (ACTIVE, "polite-block"), "allow": (ACTIVE, ""),
        }.get(action, (PENDING, ""))
