"""presence's MI commands: subs_phtable_list, pres_phtable_list, refresh_watchers, cleanup (presence.c)."""
from __future__ import annotations

import fnmatch
import time as _time
from typing import TYPE_CHECKING, Any, Callable

from opensips_py.mi import MIError
from opensips_py.modules.presence.subscriptions import Subscription

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.modules.presence.module import Module


def _param(params: Any, name: str, index: int) -> Any:
    if isinstance(params, dict):
        return params.get(name)
    if isinstance(params, list) and len(params) > index:
        return params[index]
    return None


def subscription_object(s: Subscription) -> dict[str, Any]:
    """mi_print_shtable_record(): expires as local time, the next hop when there is a route set."""
    item: dict[str, Any] = {
        "pres_uri": s.pres_uri, "event": s.event,
        "expires": _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(s.expires)),
        "db_flag": s.db_flag, "version": s.version,
    }
    if s.sharing_tag:
        item["sharing_tag"] = s.sharing_tag
    item.update({"to_user": s.to_user, "to_domain": s.to_domain, "to_tag": s.to_tag,
                 "from_user": s.from_user, "from_domain": s.from_domain, "from_tag": s.from_tag,
                 "contact": s.contact})
    if s.record_route:
        first = s.record_route.split(",")[0].strip()
        item["next_hop"] = first[1:first.find(">")] if first.startswith("<") else first
    item.update({"callid": s.callid, "local_cseq": s.local_cseq, "remote_cseq": s.remote_cseq})
    return item


def commands(module: "Module") -> dict[str, Callable]:
    def subs_phtable_list(params: Any) -> list[dict[str, Any]]:
        from_w, to_w = _param(params, "from", 0), _param(params, "to", 1)
        out = []
        for s in module.subs:
            if from_w is not None or to_w is not None:
                watcher = f"sip:{s.from_user}@{s.from_domain}"
                if from_w is not None and not fnmatch.fnmatchcase(watcher, str(from_w)):
                    continue
                if to_w is not None and not fnmatch.fnmatchcase(s.pres_uri, str(to_w)):
                    continue
            out.append(subscription_object(s))
        return out

    def pres_phtable_list(params: Any) -> list[dict[str, Any]]:
        out = []
        event_codes = {"presence": 1, "presence.winfo": 2, "dialog": 4, "dialog;sla": 8}
        for (uri, event), etags in module.phtable.items():
            for etag, count in etags.items():
                out.append({"pres_uri": uri, "event": event_codes.get(event, 0), "etag_count": count,
                            "etag": etag})
        return out

    def refresh_watchers(params: Any) -> str:
        uri = _param(params, "presentity_uri", 0)
        event_name = _param(params, "event", 1)
        refresh_type = _param(params, "refresh_type", 2)
        if uri is None or event_name is None or refresh_type is None:
            raise MIError(-32602, "Invalid params")
        event = module.events.get(str(event_name))
        if event is None:
            raise MIError(500, "wrong event parameter")
        try:
            kind = int(refresh_type)
        except ValueError as exc:
            raise MIError(500, "Bad refresh_type") from exc
        if kind != 0 and event.auth_status is not None:  # re-read the authorization rules
            for s in module.subs.watching(str(uri), event.name):
                user_host = str(uri)[4:].split("@")
                if event.rules_document is not None and len(user_host) == 2:
                    s.rules_doc = event.rules_document(user_host[0], user_host[1])
                event.auth_status(s)
        module.query_db_notify(str(uri), event, None)
        return "OK"

    def cleanup(params: Any) -> str:
        now = int(module._now())
        module.presentity_clean(now)
        return "OK"

    return {"refresh_watchers": refresh_watchers, "refreshWatchers": refresh_watchers, "cleanup": cleanup,
            "pres_phtable_list": pres_phtable_list, "subs_phtable_list": subs_phtable_list}
