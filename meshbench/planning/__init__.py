"""From a scenario to an ordered list of trials (``plan``) and the shared clock windows a
trial's phases occupy (``windows``). A plan is data: printed by ``--dry-run``, stored in
run.json, finished by ``--resume``."""
