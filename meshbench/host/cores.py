"""Which CPUs the local platform pins the generator, the apps and the sidecars to.

Chosen by measurement (:mod:`meshbench.host.preflight`) where the host has cores to spare:

- CPU 0 and its SMT siblings are avoided (interrupts and housekeeping land there: on a
  16-core VM the generator pinned to CPU 0 stalled 20-65 ms once a second);
- one thread per physical core, so no two roles share a core's execution units;
- isolated cores first; cores that take most device interrupts last
  (:data:`meshbench.host.preflight.IRQ_HEAVY_FACTOR`); within those, the quietest first
  (lowest wake-up jitter, then least busy);
- the generator gets one core per worker, then the sidecars and the apps get cores of
  their own (up to ``MAX_POD_CORES`` each).

On a host with 2 CPUs or fewer there is nothing to choose: the generator on CPU 0, every
pod on CPU 1 (or everything on CPU 0 alone), as before. CPUs set in the scenario
(``local.load_cpus``, ``pod_cpus``, ``sidecar_cpus``) always win.
"""

from __future__ import annotations

from meshbench.config.cpu_list import parse_cpu_list
from meshbench.host.pinning import Pinning
from meshbench.host.preflight import HostFacts, Preflight

MAX_POD_CORES = 4
"""Most cores given to the apps, and separately to the sidecars, by the automatic choice:
the default chains are a few processes each; more cores only spread them thinner."""


def _cpu_list(cpus: list[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def _score(p: Preflight, cpu: int) -> tuple[float, float, int]:
    j = p.jitter.get(cpu)
    return (max(j.p99_us, j.max_us / 10) if j else 0.0, p.busy_pct.get(cpu, 0.0), cpu)


def choose(p: Preflight, workers: int, exclude: frozenset[int] = frozenset()) -> Pinning:
    """The automatic choice for ``workers`` generator processes, leaving ``exclude``
    (CPUs the scenario gave a role) alone; see the module doc."""
    facts: HostFacts = p.facts
    cpus = [c for c in facts.cpu_ids if c not in exclude] or facts.cpu_ids
    if len(facts.cpu_ids) <= 2:
        load, pods = facts.cpu_ids[0], facts.cpu_ids[-1]
        return Pinning(
            str(load), str(pods), str(pods), f"{len(facts.cpu_ids)} CPU(s): nothing to choose"
        )
    core_of = {c.cpu: c.core for c in facts.cpus}
    first_core = core_of[min(facts.cpu_ids)]
    members: dict[str, list[int]] = {}
    for c in cpus:
        members.setdefault(core_of[c], []).append(c)
    # one thread per physical core (its quietest), ranked isolated first, IRQ-heavy last,
    # then quietest
    threads = [min(group, key=lambda c: _score(p, c)) for group in members.values()]
    heavy = {c for c in threads if p.irq_heavy(c)}
    ranked = sorted(
        (c for c in threads if core_of[c] != first_core),
        key=lambda c: (c not in facts.isolated, c in heavy, _score(p, c)),
    )
    avoided = len(ranked) >= 3
    if not avoided:  # too few spare cores: take the first core's thread back
        ranked += [c for c in threads if core_of[c] == first_core]
    n_load = max(1, min(workers, len(ranked) - 2))
    rest = ranked[n_load:] or ranked[-1:]
    n_pods = max(1, min(MAX_POD_CORES, len(rest) // 2))
    sidecars = rest[:n_pods]
    apps = rest[n_pods : n_pods * 2] or sidecars
    why = f"measured: {len(members)} physical cores, one thread each, quietest first; " + (
        f"CPU {min(facts.cpu_ids)}'s core avoided"
        if avoided
        else f"too few cores to leave CPU {min(facts.cpu_ids)}'s idle"
    )
    if heavy_ranked := [c for c in ranked if c in heavy]:
        why += f"; CPUs {_cpu_list(heavy_ranked)} take most device interrupts: ranked last"
    return Pinning(_cpu_list(ranked[:n_load]), _cpu_list(apps), _cpu_list(sidecars), why)


def resolve(
    p: Preflight | None,
    workers: int,
    load_cpus: str | None,
    pod_cpus: str | None,
    sidecar_cpus: str | None,
) -> Pinning:
    """The scenario's CPU lists where set, the measured choice for the rest.

    A sidecar list left unset follows an explicit ``pod_cpus`` (sidecars and apps
    together, as scenarios written before sidecar_cpus meant)."""
    if load_cpus and pod_cpus:
        return Pinning(load_cpus, pod_cpus, sidecar_cpus or pod_cpus, "scenario")
    if p is None:
        raise ValueError("no preflight to choose CPUs from")
    given = frozenset(
        c for v in (load_cpus, pod_cpus, sidecar_cpus) if v for c in parse_cpu_list(v)
    )
    auto = choose(p, workers, given)
    explicit = [
        name
        for name, v in (
            ("load_cpus", load_cpus),
            ("pod_cpus", pod_cpus),
            ("sidecar_cpus", sidecar_cpus),
        )
        if v
    ]
    return Pinning(
        load_cpus or auto.load_cpus,
        pod_cpus or auto.pod_cpus,
        sidecar_cpus or (pod_cpus if pod_cpus else auto.sidecar_cpus),
        auto.chosen_by + (f"; {', '.join(explicit)} from the scenario" if explicit else ""),
    )
