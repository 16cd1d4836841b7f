"""The Active switch set in the console wins over the config file's ``active:``.

The file stays the reviewed default; a manager who switches an integration off in the console
(an account being migrated, a supplier's outage) means it to stay off until someone switches it on
again — through restarts of ``skladbridge serve`` and re-runs of ``skladbridge deploy``, which plan
the deployments from the config, and for every run however it is started (a webhook, a poll, a
schedule, a manual run). So the switch is kept in the hub store and laid over the file where a
config meets the store: in each run (:mod:`tasks.exchange`) and where deployments are planned.
"""

from __future__ import annotations

from hub.config import Config, Integration
from hub.store import Store, Switch


class SwitchedOff(Exception):
    """A run that must not be skipped silently (the full import) was started for a switched-off integration."""

    journal_event = "switched-off"


def with_switches(config: Config, store: Store) -> Config:
    """``config`` with each integration's ``active`` as last switched in the console, where it was."""
    switched = store.switches.all()
    changed: dict[str, Integration] = {
        name: integ.model_copy(update={"active": switched[name].active})
        for name, integ in config.integrations.items()
        if name in switched and switched[name].active != integ.active
    }
    if not changed:
        return config
    return config.model_copy(update={"integrations": {**config.integrations, **changed}})


def why_off(integration: str, file_active: bool, switch: Switch | None) -> str:
    """One line saying who switched ``integration`` off, for a run that therefore does nothing."""
    if switch is not None and not switch.active:
        return (
            f"{integration} is switched off in the console (by {switch.by}, "
            f"{switch.at:%Y-%m-%d %H:%M} UTC): nothing runs until it is switched on there"
        )
    assert not file_active
    return f"{integration} is inactive (active: false in the config): nothing runs until it is set to true"
