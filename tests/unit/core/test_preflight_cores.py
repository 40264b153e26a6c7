"""The host preflight reads real /proc and /sys (captured from this 2-vCPU VM and a
16-core VM) and built ones (an isolated-core host, SMT, a busy host); the core choice
is checked on 2, 4, 16 and 64 CPUs."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshbench.config.cpu_list import parse_cpu_list
from meshbench.host.cores import choose, resolve
from meshbench.host.preflight import HostFacts, Jitter, Preflight, busy_between, read_facts

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"
QUIET = Jitter(p50_us=60.0, p99_us=110.0, max_us=300.0, wakeups=1000)


def build_host(
    root: Path, cores: int, threads: int = 1, isolated: str = "", governor: str | None = None
) -> Path:
    """A /sys tree of ``cores`` x ``threads`` CPUs, numbered as Linux does (thread 2 of
    core c is CPU c + cores)."""
    cpu_root = root / "sys/devices/system/cpu"
    n = cores * threads
    cpu_root.mkdir(parents=True)
    (cpu_root / "online").write_text(f"0-{n - 1}\n")
    (cpu_root / "isolated").write_text(isolated + "\n")
    (cpu_root / "smt").mkdir()
    (cpu_root / "smt/active").write_text("1\n" if threads > 1 else "0\n")
    for cpu in range(n):
        core = cpu % cores
        topo = cpu_root / f"cpu{cpu}/topology"
        topo.mkdir(parents=True)
        (topo / "core_id").write_text(f"{core}\n")
        (topo / "physical_package_id").write_text("0\n")
        (topo / "thread_siblings_list").write_text(
            ",".join(str(core + t * cores) for t in range(threads)) + "\n"
        )
        if governor:
            (cpu_root / f"cpu{cpu}/cpufreq").mkdir()
            (cpu_root / f"cpu{cpu}/cpufreq/scaling_governor").write_text(governor + "\n")
    return root


def quiet(facts: HostFacts, noisy: dict[int, float] | None = None) -> Preflight:
    jitter = {c: QUIET for c in facts.cpu_ids}
    for cpu, p99 in (noisy or {}).items():
        jitter[cpu] = Jitter(60.0, p99, p99 * 3, 1000)
    return Preflight(facts, {c: 2.0 for c in facts.cpu_ids}, jitter)


# -- reading the host -------------------------------------------------------------------


def test_the_captured_2_vcpu_vm() -> None:
    facts = read_facts(HOSTS / "vm-2cpu")
    assert facts.cpu_ids == [0, 1]
    assert [c.siblings for c in facts.cpus] == [(0,), (1,)]
    assert facts.isolated == () and facts.smt_active is False
    assert all(c.governor is None for c in facts.cpus)  # no cpufreq in this VM


def test_the_captured_16_core_vm_and_its_busy_share() -> None:
    root = HOSTS / "vm-16cpu"
    facts = read_facts(root)
    assert facts.cpu_ids == list(range(16))
    assert len(facts.cores()) == 16  # no SMT siblings
    busy = busy_between((root / "proc/stat").read_text(), (root / "proc/stat.after").read_text())
    assert set(busy) == set(range(16))
    assert all(0 <= b <= 100 for b in busy.values())


def test_an_isolated_smt_host_with_a_powersave_governor(tmp_path: Path) -> None:
    facts = read_facts(
        build_host(tmp_path, cores=4, threads=2, isolated="2-3,6-7", governor="powersave")
    )
    assert facts.isolated == (2, 3, 6, 7) and facts.smt_active is True
    assert facts.cores()["0/1"] == [1, 5]
    p = quiet(facts)
    warnings = p.warnings([1, 5])
    assert any("frequency governor powersave" in w for w in warnings)
    assert any("SMT siblings both in use (1, 5)" in w for w in warnings)
    assert read_facts(tmp_path, allowed={0, 1}).cpu_ids == [0, 1]  # affinity restricts


def test_a_busy_host_is_warned_about_by_cpu() -> None:
    before = "cpu  1 1 1 1\ncpu0 100 0 0 900 0 0 0 0\ncpu1 100 0 0 900 0 0 0 0\n"
    after = "cpu  1 1 1 1\ncpu0 180 0 0 920 0 0 0 0\ncpu1 101 0 0 999 0 0 0 0\n"
    busy = busy_between(before, after)
    assert busy == {0: 80.0, 1: 1.0}
    facts = read_facts(HOSTS / "vm-2cpu")
    p = Preflight(facts, busy, {0: QUIET, 1: Jitter(60.0, 2500.0, 40_000.0, 900)})
    warnings = p.warnings()
    assert warnings[0].startswith("CPU 0 was 80% busy before the run")
    assert any(
        w.startswith("CPU 1 wakes late (1 ms sleep: p99 +2500 µs, max +40.0 ms)") for w in warnings
    )
    assert quiet(facts).warnings() == []


def write_interrupts(
    root: Path, cpus: int, lines: dict[str, dict[int, int]], affinity: dict[str, str]
) -> None:
    """/proc/interrupts (numbered device IRQs plus the per-CPU LOC line, which never
    counts) and /proc/irq/<n>/smp_affinity_list, as Linux writes them."""
    (root / "proc").mkdir(parents=True, exist_ok=True)
    out = ["     " + "".join(f"  CPU{c:<8}" for c in range(cpus))]
    for irq, counts in lines.items():
        cols = "".join(f"{counts.get(c, 0):>11}" for c in range(cpus))
        out.append(f"{irq:>4}:{cols}  PCI-MSIX-0000:00:04.0  1-edge      eth0-rx-{irq}")
    out.append("LOC:" + "".join(f"{10**7:>11}" for _ in range(cpus)) + "   Local timer interrupts")
    (root / "proc/interrupts").write_text("\n".join(out) + "\n")
    for irq, cpu_list in affinity.items():
        (root / "proc/irq" / irq).mkdir(parents=True)
        (root / "proc/irq" / irq / "smp_affinity_list").write_text(cpu_list + "\n")


def test_the_captured_2_vcpu_vm_interrupts() -> None:
    facts = read_facts(HOSTS / "vm-2cpu")
    assert facts.irq_cpus == (0, 1)
    disk = next(i for i in facts.irqs if i.irq == "36")
    assert disk.device.endswith("virtio1-req.0") and disk.affinity == (0, 1)
    assert disk.per_cpu[1] > 1_000_000 and disk.per_cpu[0] == 0
    assert not any(i.irq in ("LOC", "RES", "NMI") for i in facts.irqs)  # per-CPU lines
    p = quiet(facts)
    assert p.irq_share([1]) > 0.9
    # the 2-CPU layout uses both CPUs: nowhere to move the IRQs, so no warning
    assert p.warnings([0, 1]) == []
    warning = p.irq_warning([1])
    assert warning is not None and warning.startswith("CPUs 1 handled 9")
    assert "IRQ 36 (virtio1-req.0)" in warning
    assert "echo 0 > /proc/irq/<n>/smp_affinity_list" in warning


def test_pinned_cpus_taking_most_device_interrupts_are_warned_about(tmp_path: Path) -> None:
    root = build_host(tmp_path, cores=16)
    # a NIC whose receive queues all land on CPUs 1 and 2, a disk on CPU 0
    write_interrupts(
        root,
        16,
        {"40": {1: 900_000}, "41": {2: 500_000}, "50": {0: 300_000}},
        {"40": "1", "41": "2", "50": "0-15"},
    )
    p = quiet(read_facts(root))
    used = list(range(1, 10))  # pinned there by a scenario (the automatic choice avoids 1, 2)
    warning = next(w for w in p.warnings(used) if "device interrupts" in w)
    assert warning.startswith("CPUs 1-9 handled 82% of the device interrupts since boot")
    assert "IRQ 40 (eth0-rx-40), 41 (eth0-rx-41)):" in warning  # not 50: none here
    assert "echo 0,10-15 > /proc/irq/<n>/smp_affinity_list" in warning
    assert "IRQBALANCE_BANNED_CPULIST=1-9" in warning
    assert not any("device interrupts" in w for w in p.warnings([5, 6, 7]))  # 0 % there
    recorded = p.to_json()
    assert recorded["device_irqs_per_cpu"]["1"] == 900_000
    assert {
        "irq": "40",
        "device": "PCI-MSIX-0000:00:04.0 1-edge eth0-rx-40",
        "total": 900_000,
        "affinity": [1],
    } in recorded["irqs"]
    # every CPU in use (the doctor's view): nowhere to move them, nothing to warn
    assert not any("device interrupts" in w for w in recorded["warnings"])


def test_the_core_choice_ranks_cpus_taking_most_device_interrupts_last(tmp_path: Path) -> None:
    root = build_host(tmp_path, cores=16)
    # CPUs 1 and 2 take the NIC's queues (53 % and 29 %), CPU 3 a modest share (6 %, under
    # twice an even share of 6.25 %); CPUs 1 and 2 are also the quietest by jitter
    write_interrupts(
        root,
        16,
        {"40": {1: 900_000}, "41": {2: 500_000}, "42": {3: 100_000}, "50": {0: 200_000}},
        {"40": "1", "41": "2", "42": "3", "50": "0-15"},
    )
    noisy = {c: 200.0 for c in range(4, 16)}
    p = quiet(read_facts(root), noisy=noisy)
    assert [c for c in range(16) if p.irq_heavy(c)] == [1, 2]  # CPU 0: 11.8 %, under 12.5 %
    pin = choose(p, workers=2)
    used = pin.cpus()
    assert len(used) == 2 + 4 + 4 and not {0, 1, 2} & set(used)
    assert parse_cpu_list(pin.load_cpus)[0] == 3  # the quietest of the rest first
    assert "CPUs 1,2 take most device interrupts: ranked last" in pin.chosen_by
    # with nothing else to take, the IRQ-heavy CPUs are still used
    few = choose(quiet(read_facts(root)), workers=14)
    assert {1, 2} <= set(few.cpus())


def test_a_host_without_proc_interrupts_has_no_irq_facts(tmp_path: Path) -> None:
    p = quiet(read_facts(build_host(tmp_path, cores=4)))
    assert p.facts.irqs == () and p.irq_warning([1]) is None and not p.irq_heavy(1)
    assert p.to_json()["device_irqs_per_cpu"] == {}


# -- choosing cores ---------------------------------------------------------------------


def test_two_cpus_keep_todays_layout() -> None:
    pin = choose(quiet(read_facts(HOSTS / "vm-2cpu")), workers=1)
    assert (pin.load_cpus, pin.pod_cpus, pin.sidecar_cpus) == ("0", "1", "1")


def test_four_cpus_avoid_cpu_0_and_give_each_role_a_core(tmp_path: Path) -> None:
    pin = choose(quiet(read_facts(build_host(tmp_path, cores=4))), workers=1)
    roles = [parse_cpu_list(x) for x in (pin.load_cpus, pin.sidecar_cpus, pin.pod_cpus)]
    assert sorted(c for r in roles for c in r) == [1, 2, 3]
    assert "CPU 0's core avoided" in pin.chosen_by


def test_sixteen_cpus_quietest_first_and_workers_one_per_core() -> None:
    facts = read_facts(HOSTS / "vm-16cpu")
    pin = choose(quiet(facts, noisy={5: 900.0, 9: 700.0}), workers=4)
    load = parse_cpu_list(pin.load_cpus)
    apps, sidecars = parse_cpu_list(pin.pod_cpus), parse_cpu_list(pin.sidecar_cpus)
    assert len(load) == 4 and len(apps) == 4 and len(sidecars) == 4
    used = load + apps + sidecars
    assert len(set(used)) == 12  # every role on cores of its own
    assert 0 not in used and 5 not in used and 9 not in used  # CPU 0 and the noisy ones


def test_sixty_four_smt_cpus_use_one_thread_per_core(tmp_path: Path) -> None:
    facts = read_facts(build_host(tmp_path, cores=32, threads=2, isolated="28-31,60-63"))
    pin = choose(quiet(facts), workers=8)
    used = [c for x in (pin.load_cpus, pin.pod_cpus, pin.sidecar_cpus) for c in parse_cpu_list(x)]
    cores = [c % 32 for c in used]
    assert len(set(cores)) == len(cores) == 16  # no two CPUs of one core
    assert 0 not in cores
    assert set(parse_cpu_list(pin.load_cpus)) & {28, 29, 30, 31, 60, 61, 62, 63}  # isolated first


def test_cpus_set_in_the_scenario_win_and_are_left_to_their_role(tmp_path: Path) -> None:
    p = quiet(read_facts(build_host(tmp_path, cores=8)))
    assert resolve(p, 1, "3", "4-5", None).sidecar_cpus == "4-5"  # as before sidecar_cpus
    assert resolve(p, 1, "3", "4-5", None).chosen_by == "scenario"
    mixed = resolve(p, 1, "3", None, None)
    assert mixed.load_cpus == "3"
    assert 3 not in parse_cpu_list(mixed.pod_cpus) + parse_cpu_list(mixed.sidecar_cpus)
    assert "load_cpus from the scenario" in mixed.chosen_by
    with pytest.raises(ValueError, match="no preflight"):
        resolve(None, 1, None, None, None)


def test_the_jitter_probe_measures_each_cpu_it_is_given() -> None:
    import os

    from meshbench.host.preflight import probe_jitter

    cpus = sorted(os.sched_getaffinity(0))
    got = probe_jitter(cpus, seconds=0.1)
    assert sorted(got) == cpus
    for j in got.values():
        assert j.wakeups >= 20  # 1 ms sleeps in 0.1 s, however late
        assert 0 <= j.p50_us <= j.p99_us <= j.max_us
