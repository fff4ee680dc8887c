"""Event packages presence serves (OpenSIPS's pres_ev_t, event_list.c) and the Event header they match.

The presence module knows no package by itself: presence_xml (and, in OpenSIPS, presence_dialoginfo,
presence_mwi…) registers each one with `add_event()` at start-up, with the callbacks that make it
different (body check on PUBLISH, aggregation of several publications, watcher authorization).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.modules.presence.subscriptions import Subscription

PUBL_TYPE = 1   # state comes from PUBLISH (presence, dialog;sla)
WINFO_TYPE = 2  # watcher information about another package (presence.winfo)

# The event names OpenSIPS's parse_event() recognizes (anything else is EVENT_OTHER: 489 at once).
KNOWN_EVENTS = frozenset((
    "presence", "presence.winfo", "dialog", "message-summary", "xcap-diff", "call-info", "line-seize",
    "as-feature-event", "refer", "reg", "ua-profile",
))


@dataclass(frozen=True)
class ParsedEvent:
    """An Event header: the package name (lower case), its parameters, and the text as written."""

    name: str
    params: dict[str, str | None]
    text: str

    @property
    def event_id(self) -> str | None:
        return self.params.get("id")

    @property
    def key(self) -> str:
        """The registered name it matches: "dialog;sla" for a dialog event with the sla parameter."""
        return "dialog;sla" if self.name == "dialog" and "sla" in self.params else self.name


def parse_event(text: str | None) -> ParsedEvent | None:
    """`presence;id=7` -> ParsedEvent; None when the header is missing or empty."""
    if text is None or not text.strip():
        return None
    name, *rest = text.split(";")
    params: dict[str, str | None] = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip() if sep else None
    return ParsedEvent(name.strip().lower(), params, text.strip())


@dataclass
class EventPackage:
    """One registered package, with the behaviour its module gives it (all callbacks optional)."""

    name: str
    content_type: str
    type: int = PUBL_TYPE
    default_expires: int = 3600
    mandatory_body: bool = True
    mandatory_timeout_notification: bool = True
    req_auth: bool = False
    # PUBLISH body check (evs_publ_handl): None when fine, else (code, reason) to answer with
    check_publish: Callable[[bytes], tuple[int, str] | None] | None = None
    # agg_nbody: (user, domain, bodies oldest first, index of the body to render offline or -1) -> body
    aggregate: Callable[[str, str, list[bytes], int], bytes | None] | None = None
    # get_rules_doc: (user, domain) -> the authorization document, or None
    rules_document: Callable[[str, str], bytes | None] | None = None
    # get_auth_status: sets subs.status / subs.reason from subs.rules_doc
    auth_status: Callable[["Subscription"], None] | None = None
    # apply_auth_nbody: (body, subs) -> the body this watcher may see (None: unchanged)
    apply_auth: Callable[[bytes, "Subscription"], bytes | None] | None = None
    # build_empty_pres_info: (presentity uri) -> a body when nobody published
    build_empty: Callable[[str], bytes | None] | None = None
    # WINFO_TYPE: the body listing watchers; (presentity uri, watchers, version, full) -> body
    winfo_body: Callable[..., bytes] | None = None
    wipeer: "EventPackage | None" = field(default=None, repr=False)  # presence <-> presence.winfo


class EventList:
    """The registered packages, in registration order (Allow-Events lists them so)."""

    def __init__(self) -> None:
        self.events: list[EventPackage] = []

    def add(self, event: EventPackage) -> None:
        """pres_add_event(): a package registered twice is an error; .winfo packages find their peer."""
        if self.get(event.name) is not None:
            raise ValueError(f"event {event.name} registered twice")
        self.events.append(event)
        base, dot, suffix = event.name.partition(".")
        if dot and suffix == "winfo":
            peer = self.get(base)
            if peer is not None:
                peer.wipeer, event.wipeer = event, peer
        else:
            peer = self.get(event.name + ".winfo")
            if peer is not None:
                peer.wipeer, event.wipeer = event, peer

    def get(self, name: str) -> EventPackage | None:
        for event in self.events:
            if event.name == name:
                return event
        return None

    def names(self) -> list[str]:
        return [e.name for e in self.events]
