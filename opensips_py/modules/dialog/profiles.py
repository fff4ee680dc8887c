"""Dialog profiles (dlg_profile.c): named sets of dialogs, with or without a value, counted for limits.

`profiles_with_value` / `profiles_no_value` declare them (";"-separated names; a "/b" or "/s" suffix asks
OpenSIPS to share the profile through clusterer or cachedb, which a single opensips-py node does not need:
the suffix is accepted and the profile stays local). A dialog joins a profile with set_dlg_profile(), leaves
it with unset_dlg_profile() or when it ends. A dialog may be in one profile several times (with several
values, or even the same one), as in OpenSIPS.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.modules.dialog.model import Dialog


@dataclass
class Profile:
    name: str
    has_value: bool
    shared: str = ""  # "b" / "s" as declared (not acted upon: one node)
    # value -> dialogs (a dialog may appear more than once); no-value profiles use the key None
    members: dict[str | None, list["Dialog"]] = field(default_factory=dict)

    def size(self, value: str | None = None) -> int:
        if self.has_value and value is not None:
            return len(self.members.get(value, ()))
        return sum(len(dialogs) for dialogs in self.members.values())


class Profiles:
    """Every declared profile, and the dialog <-> profile links."""

    def __init__(self) -> None:
        self.by_name: dict[str, Profile] = {}

    def declare(self, spec: str | None, has_value: bool) -> None:
        """One profiles_with_value/profiles_no_value setting: "a; b/b; c"."""
        for part in (spec or "").split(";"):
            name = part.strip()
            if not name:
                continue
            name, _, shared = name.partition("/")
            name = name.strip()
            if name in self.by_name:
                raise ValueError(f"profile {name!r} declared twice")
            self.by_name[name] = Profile(name, has_value, shared.strip())

    def get(self, name: str) -> Profile | None:
        return self.by_name.get(name)

    def __iter__(self):
        return iter(self.by_name.values())

    def link(self, dialog: "Dialog", profile: Profile, value: str | None) -> None:
        key = value if profile.has_value else None
        profile.members.setdefault(key, []).append(dialog)
        if dialog.profiles is None:
            dialog.profiles = []
        dialog.profiles.append((profile.name, key))

    def unlink(self, dialog: "Dialog", profile: Profile, value: str | None, all_values: bool = False) -> int:
        """Remove the dialog from the profile (one link with that value, or every link when all_values);
        returns how many links went."""
        links = dialog.profiles or []
        removed = 0
        kept: list[tuple[str, str | None]] = []
        for name, key in links:
            if name == profile.name and (all_values or not profile.has_value or key == value) and \
                    (all_values or removed == 0):
                members = profile.members.get(key)
                if members is not None:
                    try:
                        members.remove(dialog)
                    except ValueError:
                        pass
                    if not members:
                        del profile.members[key]
                removed += 1
                continue
            kept.append((name, key))
        dialog.profiles = kept or None
        return removed

    def contains(self, dialog: "Dialog", profile: Profile, value: str | None) -> bool:
        for name, key in dialog.profiles or ():
            if name == profile.name and (not profile.has_value or value is None or key == value):
                return True
        return False

    def unlink_all(self, dialog: "Dialog") -> None:
        """The dialog ended: it leaves every profile (destroy_linkers)."""
        for name, key in dialog.profiles or ():
            profile = self.by_name.get(name)
            members = profile.members.get(key) if profile is not None else None
            if members is None:
                continue
            try:
                members.remove(dialog)
            except ValueError:
                pass
            if not members:
                del profile.members[key]
        dialog.profiles = None

    def dialogs(self, profile: Profile, value: str | None = None) -> Iterable["Dialog"]:
        if profile.has_value and value is not None:
            return list(dict.fromkeys(profile.members.get(value, ())))
        return list(dict.fromkeys(d for dialogs in profile.members.values() for d in dialogs))
