//! Multiprocessor VMs with hand-assembled guests: a vCPU started through
//! the VM's virtual CPC at the reset base its virtual GCRs hold, an IPI
//! sent through its virtual GIC waking a waiting vCPU, and a core powered
//! down again — on as many physical CPUs as vCPUs, and on fewer.

mod common;

use common::*;
use monitor::vcpu::VcpuState;
use monitor::vm::{VmConfig, VmState};

/// The VM's CPS windows (the bare machine's addresses).
const GCR: u32 = 0xf010_0000;
const GIC: u32 = 0xf012_0000;
const CPC: u32 = 0xf020_0000;
/// Where vCPU 1 starts (GCR_CO_RESET_BASE), guest-physical 0x10_2000.
const SECONDARY: u32 = 0x8010_2000;
/// The shared GIC interrupt used as an IPI to vCPU 0.
const IPI: u32 = 20;

/// `sw t0` of the 32-bit value `v` at `off(base)`.
fn store(base: u8, off: u32, v: u32) -> Vec<u32> {
    let mut c = load32(T0, v);
    c.push(sw(T0, off as i16, base));
    c
}

/// vCPU 0: set vCPU 1's reset base (GCR core-other), route the IPI to
/// itself on pin 0 (edge-triggered, enabled), enable IP2, power vCPU 1 up
/// through the CPC and `wait`. The interrupt handler exits with 0x40.
fn boot_cpu(ebase: u32) -> Vec<u32> {
    let mut c = uncached(S0, GCR);
    c.extend(store(S0, 0x2018, 1 << 16)); // GCR_CL_OTHER: core 1
    c.extend(store(S0, 0x4020, SECONDARY)); // GCR_CO_RESET_BASE
    c.extend(uncached(S1, GIC));
    c.extend(store(S1, 0x500 + 4 * IPI, 1 << 31)); // MAP_PIN: pin 0
    c.extend(store(S1, 0x2000 + 0x20 * IPI, 1)); // MAP_VP: VP 0
    c.extend(store(S1, 0x180, 1 << IPI)); // TRIG: edge
    c.extend(store(S1, 0x380, 1 << IPI)); // SMASK: enable
    c.extend(load32(T0, ebase));
    c.push(mtc0(T0, EBASE.0, EBASE.1));
    c.extend(load32(T0, 0x400 | 0x80 | 0x1)); // IM2, KX, IE
    c.push(mtc0(T0, STATUS, 0));
    c.extend(uncached(S2, CPC));
    c.extend(store(S2, 0x2010, 1 << 16)); // CPC_CL_OTHER: core 1
    c.extend(store(S2, 0x4000, 3)); // CPC_CO_CMD: PWRUP
    c.push(WAIT);
    c.extend(SPIN);
    c
}

/// vCPU 1: check that EBase.CPUNum says 1 (else exit with 0x100 | it),
/// then raise the IPI through GIC_SH_WEDGE and spin.
fn secondary() -> Vec<u32> {
    let mut c = vec![mfc0(T0, EBASE.0, EBASE.1), andi(T0, T0, 0x3ff)];
    c.extend(load32(T1, 1));
    let branch = c.len();
    c.push(NOP); // patched below
    c.push(NOP);
    c.extend(uncached(S1, GIC));
    c.extend(store(S1, 0x280, (1 << 31) | IPI)); // WEDGE: set IPI pending
    c.extend(SPIN);
    let fail = c.len();
    c[branch] = bne(T0, T1, rel(branch, fail));
    c.push(ori(T0, T0, 0x100));
    c.extend(exit_with(T0));
    c
}

fn two_vcpu_vm(boot: Vec<u32>, extra: Vec<(u64, Vec<u32>)>) -> VmConfig {
    let mut config = vm("smp", kernel(&boot, &extra));
    config.vcpus = 2;
    config
}

fn ipi_vm() -> VmConfig {
    let ebase = 0x8010_1000u32;
    let extra = vec![
        exit_on_exception(ebase),
        (u64::from(SECONDARY) as i32 as i64 as u64, secondary()),
    ];
    two_vcpu_vm(boot_cpu(ebase), extra)
}

#[test]
fn a_secondary_vcpu_starts_through_the_cpc_and_its_ipi_wakes_the_boot_vcpu() {
    for cpus in [2, 1] {
        let (mut m, mut mon) = start(cpus, &[ipi_vm()]);
        assert_eq!(mon.vms[0].vcpus[1].state, VcpuState::Offline);
        assert!(mon.run_for(&mut m, 50_000_000), "{cpus} CPUs: VM ended");
        assert_eq!(
            mon.vms[0].state,
            VmState::Exited(0x40),
            "{cpus} CPUs: vCPU 0 took an interrupt"
        );
        let (v0, v1) = (&mon.vms[0].vcpus[0].stats, &mon.vms[0].vcpus[1].stats);
        assert_eq!(v0.waits, 1, "{cpus} CPUs: vCPU 0 waited for the IPI");
        assert!(v0.idle_cycles > 0);
        assert_eq!(v1.device_accesses, 1, "{cpus} CPUs: vCPU 1 sent the IPI");
        assert!(v1.kernel_cycles > 0 && v1.switches >= 1);
    }
}

#[test]
fn a_vcpu_the_guest_powers_down_leaves_its_cpu() {
    // vCPU 0 starts vCPU 1 (which loops) and powers it down again.
    let mut code = uncached(S0, GCR);
    code.extend(store(S0, 0x2018, 1 << 16));
    code.extend(store(S0, 0x4020, SECONDARY));
    code.extend(uncached(S2, CPC));
    code.extend(store(S2, 0x2010, 1 << 16));
    code.extend(store(S2, 0x4000, 3)); // PWRUP
    code.extend(load32(T1, 20_000));
    let delay = code.len();
    code.push(addiu(T1, T1, -1));
    code.push(bne(T1, ZERO, rel(delay + 1, delay)));
    code.push(NOP);
    code.extend(store(S2, 0x4000, 2)); // PWRDOWN
    code.extend(busy());
    let vm = two_vcpu_vm(
        code,
        vec![(u64::from(SECONDARY) as i32 as i64 as u64, busy().to_vec())],
    );
    let (mut m, mut mon) = start(2, &[vm]);
    assert!(!mon.run_for(&mut m, 1_000_000));
    let v1 = &mon.vms[0].vcpus[1];
    assert_eq!(v1.state, VcpuState::Offline);
    assert_eq!(v1.loaded_on, None);
    assert!(v1.stats.kernel_cycles > 10_000, "vCPU 1 ran while powered");
    assert_eq!(mon.vms[0].state, VmState::Running);
}

#[test]
fn vcpu_counts_outside_1_to_16_are_refused() {
    for n in [0, 17] {
        let mut config = vm("bad", kernel(&SPIN, &[]));
        config.vcpus = n;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("1 to 16"), "{err}");
    }
}
