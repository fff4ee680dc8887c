"""dialog's MI commands with OpenSIPS's recipes, result shapes and errors (dialog.c mi_cmds, dlg_hash.c,
dlg_profile.c, dlg_req_within.c, dlg_db_handler.c)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from opensips_py.mi import MIError, recipes
from opensips_py.mi.params import get_int, get_str
from opensips_py.modules.dialog.model import DELETED

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.modules.dialog.module import Module

NOT_FOUND = "Requested Dialog not found"


def commands(module: "Module") -> dict[str, Callable[[dict[str, Any]], Any]]:
    table = module.table

    def listing(with_context: bool) -> Callable:
        @recipes((), ("callid",), ("callid", "from_tag"), ("index", "counter"), named_only=True)
        def handler(params: dict[str, Any]) -> Any:
            if "callid" in params:
                callid = get_str(params, "callid")
                from_tag = get_str(params, "from_tag") if "from_tag" in params else None
                for dialog in table.by_callid(callid):
                    if from_tag is not None and dialog.legs and dialog.legs[0].tag != from_tag:
                        continue
                    if dialog.state == DELETED:
                        break
                    return {"Dialog": module.mi_dialog(dialog, with_context)}
                raise MIError(404, "No such dialog")
            dialogs = list(table)
            result: dict[str, Any] = {}
            if "index" in params:
                index, counter = get_int(params, "index"), get_int(params, "counter")
                result["count"] = len(dialogs)
                dialogs = dialogs[index:index + counter] if counter else dialogs[index:]
            result["Dialogs"] = [module.mi_dialog(d, with_context) for d in dialogs]
            return result

        return handler

    @recipes(("dialog_id",), ("dialog_id", "extra_hdrs"))
    def dlg_end_dlg(params: dict[str, Any]) -> Any:
        dialog = table.by_dialog_id(get_str(params, "dialog_id"))
        if dialog is None:
            raise MIError(404, NOT_FOUND)
        extra = get_str(params, "extra_hdrs") if "extra_hdrs" in params else ""
        headers = [line for line in extra.replace("\r\n", "\n").split("\n") if line.strip()]
        if dialog.state == DELETED or (dialog.state < 3 and dialog.transaction is None):
            raise MIError(500, "Operation failed")
        dialog.end_reason = "MI Termination"
        if dialog.state < 3:  # early: tm cancels the INVITE's branches (at the core's next turn)
            if module.end_dialog(dialog, headers) < 0:
                raise MIError(500, "Operation failed")
            return "OK"
        module.end_dialog_soon(dialog, headers)
        return "OK"

    def profile_of(params: dict[str, Any]):
        profile = module.profiles.get(get_str(params, "profile"))
        if profile is None:
            raise MIError(404, "Profile not found")
        return profile

    @recipes(("profile",), ("profile", "value"))
    def profile_get_size(params: dict[str, Any]) -> Any:
        profile = profile_of(params)
        value = get_str(params, "value") if "value" in params else None
        return {"Profile": {"name": profile.name, "value": value if profile.has_value else None,
                            "count": profile.size(value if profile.has_value else None),
                            "shared": "yes" if profile.shared == "s" else "no",
                            "replicated": "yes" if profile.shared == "b" else "no"}}

    @recipes(("profile",), ("profile", "value"))
    def profile_list_dlgs(params: dict[str, Any]) -> Any:
        profile = profile_of(params)
        value = get_str(params, "value") if "value" in params and profile.has_value else None
        return {"Dialogs": [module.mi_dialog(d, False) for d in module.profiles.dialogs(profile, value)]}

    @recipes(("profile",))
    def profile_get_values(params: dict[str, Any]) -> Any:
        profile = profile_of(params)
        if not profile.has_value:
            return [{"value": None, "count": profile.size()}]
        return [{"value": value, "count": len(dialogs)} for value, dialogs in profile.members.items()]

    @recipes(())
    def list_all_profiles(params: dict[str, Any]) -> Any:
        return {"Profiles": [{"name": p.name, "has value": p.has_value} for p in module.profiles]}

    @recipes(("profile",), ("profile", "value"))
    def profile_end_dlgs(params: dict[str, Any]) -> Any:
        profile = profile_of(params)
        value = get_str(params, "value") if "value" in params and profile.has_value else None
        for dialog in module.profiles.dialogs(profile, value):
            dialog.end_reason = "MI Termination"
            module.end_dialog_soon(dialog)
        return "OK"

    @recipes(("dlg_val_name", "dlg_val_value", "DID"))
    def dlg_push_var(params: dict[str, Any]) -> Any:
        name, value = get_str(params, "dlg_val_name"), get_str(params, "dlg_val_value")
        dids = params.get("DID")
        found = False
        for did in dids if isinstance(dids, list) else [dids]:
            dialog = table.by_dialog_id(str(did))
            if dialog is not None:
                module.store_value(dialog, name, value)
                found = True
        if not found:
            raise MIError(404, NOT_FOUND)
        return "OK"

    def dialog_of(params: dict[str, Any]):
        dialog = table.by_dialog_id(get_str(params, "dlg_id"))
        if dialog is None:
            raise MIError(404, NOT_FOUND)
        return dialog

    @recipes(("dlg_id", "profile"), ("dlg_id", "profile", "value"),
             ("dlg_id", "profile", "value", "clear_values"))
    def dlg_set_profile(params: dict[str, Any]) -> Any:
        dialog = dialog_of(params)
        profile = profile_of(params)
        value = get_str(params, "value") if "value" in params else None
        if profile.has_value:
            if value is None:
                raise MIError(400, "Missing value")
            if "clear_values" in params and get_int(params, "clear_values"):
                module.profiles.unlink(dialog, profile, None, all_values=True)
        module.profiles.link(dialog, profile, value if profile.has_value else None)
        return "OK"

    @recipes(("dlg_id", "profile"), ("dlg_id", "profile", "value"))
    def dlg_unset_profile(params: dict[str, Any]) -> Any:
        dialog = dialog_of(params)
        profile = profile_of(params)
        value = get_str(params, "value") if "value" in params else None
        if not module.profiles.unlink(dialog, profile, value, all_values=profile.has_value and value is None):
            raise MIError(404, "Dialog not found in profile")
        return "OK"

    @recipes(())
    def dlg_db_sync(params: dict[str, Any]) -> Any:
        if module.store is None:
            raise MIError(400, "Cannot sync in no-db mode")
        module.store.delete_all()
        for dialog in table:
            if dialog.state in (3, 4):
                module._db_write(dialog, insert=True)
        return "OK"

    @recipes(())
    def dlg_restore_db(params: dict[str, Any]) -> Any:
        if module.store is None:
            raise MIError(400, "Cannot restore db in no-db mode!")
        module._restore()
        return "OK"

    return {
        "dlg_list": listing(False), "dlg_list_ctx": listing(True), "dlg_end_dlg": dlg_end_dlg,
        "profile_get_size": profile_get_size, "profile_list_dlgs": profile_list_dlgs,
        "profile_get_values": profile_get_values, "list_all_profiles": list_all_profiles,
        "profile_end_dlgs": profile_end_dlgs, "dlg_push_var": dlg_push_var, "dlg_set_profile": dlg_set_profile,
        "dlg_unset_profile": dlg_unset_profile, "dlg_db_sync": dlg_db_sync, "dlg_restore_db": dlg_restore_db,
    }
