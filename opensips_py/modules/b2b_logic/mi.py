"""MI commands of b2b_logic: b2b_list (and b2b_logic:list)."""
from __future__ import annotations

from typing import Any, Callable

from opensips_py.mi.errors import MIError
from opensips_py.mi.params import get_int, get_str, get_str_array, recipes
from opensips_py.modules.b2b_entities.dialog import SERVER
from opensips_py.sip import URI, SIPParseError


def _entity_json(index: int, entity: Any) -> dict:
    """internal_mi_print_b2bl_entity_id()."""
    out: dict[str, Any] = {"index": index}
    if entity.id:
        out["scenario_id"] = entity.id
    if entity.key:
        out["key"] = entity.key
    out.update({"disconnected": int(entity.disconnected), "state": entity.state, "no": entity.no,
                "type": entity.kind})
    if entity.peer is not None and entity.peer.key:
        out["peer"] = entity.peer.key
    to_uri = entity.to_uri if entity.kind != SERVER else entity.dest_uri
    if to_uri:
        out["to_uri"] = _bare(to_uri)
    if entity.from_uri:
        out["from_uri"] = _bare(entity.from_uri)
    if entity.from_dname:
        out["from_dname"] = entity.from_dname
    return out


def _bare(text: str) -> str:
    return text[text.find("<") + 1:text.find(">")] if "<" in text and ">" in text else text


def mi_commands(module: Any) -> dict[str, Callable]:
    def b2b_list(params: Any) -> dict:
        """mi_b2b_list(): every session with its servers, clients and bridge entities."""
        tuples = []
        for tup in module.tuples.values():
            tuples.append({
                "id": tup.id, "key": tup.key, "state": tup.state, "lifetime": int(tup.lifetime), "db_flag": 0,
                "scenario": tup.scenario,
                "SERVERS": [_entity_json(i, e) for i, e in enumerate(tup.servers)],
                "CLIENTS": [_entity_json(i, e) for i, e in enumerate(tup.clients)],
                "BRIDGE_ENTITIES": [_entity_json(i, e) for i, e in enumerate(tup.bridge_entities)
                                    if e is not None],
            })
        return {"Tuples": tuples}

    @recipes(("dialog_id", "new_uri"), ("dialog_id", "new_uri", "flag"), ("dialog_id", "new_uri", "prov_media_uri"),
             ("dialog_id", "new_uri", "flag", "prov_media_uri"))
    def b2b_bridge(params: dict) -> str:
        """mi_b2b_bridge(): the entity `flag` (0 the first, 1 the second) is bridged to new_uri; the other
        one gets a BYE."""
        new_uri = get_str(params, "new_uri")
        _check_uri(new_uri, "Invalid uri for the new destination")
        entity_no = get_int(params, "flag") if "flag" in params else 0
        if entity_no not in (0, 1):
            raise MIError(404, "Invalid 'flag' parameter")
        prov = get_str(params, "prov_media_uri") if "prov_media_uri" in params else None
        if prov is not None:
            _check_uri(prov, "Bad 'prov_media_uri' parameter")
        if module.mi_bridge(get_str(params, "dialog_id"), new_uri, entity_no, prov) < 0:
            raise MIError(500, "Internal error")
        return "OK"

    @recipes(("scenario_id", "entity1", "entity2"), ("scenario_id", "entity1", "entity2", "context"))
    def b2b_trigger_scenario(params: dict) -> str:
        """mi_trigger_scenario(): entities as "id,uri[,from display name]", context as ["key=value", …]."""
        entities = []
        for n in (1, 2):
            parts = [p.strip() for p in get_str(params, f"entity{n}").split(",")]
            if not parts[0]:
                raise MIError(400, f"Missing ID for entity{n}")
            if len(parts) < 2 or not parts[1]:
                raise MIError(400, f"Missing destination URI for entity{n}")
            entities.append((parts[0], parts[1], parts[2] if len(parts) > 2 and parts[2] else None))
        values = {}
        if "context" in params:
            for item in get_str_array(params, "context"):
                key, sep, value = item.partition("=")
                if not sep:
                    raise MIError(400, "Bad format for context value")
                values[key] = value
        if module.trigger_scenario(get_str(params, "scenario_id"), entities[0], entities[1], values) is None:
            raise MIError(500, "Failed to initialize scenario")
        return "OK"

    @recipes(("key",))
    def b2b_terminate_call(params: dict) -> str:
        if module.terminate_call(get_str(params, "key")) < 0:
            raise MIError(500, "Internal error")
        return "OK"

    return {"b2b_list": b2b_list, "b2b_logic:list": b2b_list, "b2b_bridge": b2b_bridge,
            "b2b_logic:bridge": b2b_bridge, "b2b_terminate_call": b2b_terminate_call,
            "b2b_logic:terminate_call": b2b_terminate_call, "b2b_trigger_scenario": b2b_trigger_scenario,
            "b2b_logic:trigger_scenario": b2b_trigger_scenario}


def _check_uri(text: str, message: str) -> None:
    try:
        uri = URI(text)
    except SIPParseError as exc:
        raise MIError(404, message) from exc
    if not uri.is_sip:
        raise MIError(404, message)
