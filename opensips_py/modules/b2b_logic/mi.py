"""MI commands of b2b_logic: b2b_list (and b2b_logic:list)."""
from __future__ import annotations

from typing import Any, Callable

from opensips_py.modules.b2b_entities.dialog import SERVER


def _entity_json(entity: Any) -> dict:
    dlg = entity.dlg
    out: dict[str, Any] = {"key": entity.key or "", "disconnected": int(entity.disconnected),
                           "state": entity.state, "type": entity.kind}
    if entity.id:
        out["scenario_id"] = entity.id
    if dlg is not None:
        out["callid"] = dlg.call_id
        out["from_tag"] = dlg.remote_tag if dlg.kind == SERVER else dlg.local_tag
        out["to_tag"] = dlg.local_tag if dlg.kind == SERVER else dlg.remote_tag
    if entity.peer is not None and entity.peer.key:
        out["peer"] = entity.peer.key
    return out


def mi_commands(module: Any) -> dict[str, Callable]:
    def b2b_list(params: Any) -> dict:
        tuples = []
        for tup in module.tuples.values():
            item: dict[str, Any] = {"id": tup.id, "key": tup.key, "scenario_id": tup.scenario,
                                    "state": tup.state, "lifetime": 0}
            if tup.servers:
                item["SERVERS"] = [_entity_json(e) for e in tup.servers]
            if tup.clients:
                item["CLIENTS"] = [_entity_json(e) for e in tup.clients]
            bridge = [_entity_json(e) for e in tup.bridge_entities if e is not None]
            if bridge:
                item["BRIDGE_ENTITIES"] = bridge
            tuples.append(item)
        return {"Tuples": tuples}

    return {"b2b_list": b2b_list, "b2b_logic:list": b2b_list}
