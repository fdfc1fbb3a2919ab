//! Replays of the register sequences Linux 6.1 performs on the CPS
//! (`arch/mips/kernel/{mips-cm.c,mips-cpc.c,smp-cps.c,smp.c,cps-vec.S}`,
//! `drivers/irqchip/irq-mips-gic.c`), with a CM 2.5: 32-bit accesses only,
//! 64-bit registers read high word (+4) first, written high word first.

use super::*;

const GCR: u64 = 0x1610_0000;
const CPC: u64 = 0x1620_0000;
const GIC: u64 = 0x1612_0000;
/// `CKSEG1ADDR(mips_cps_core_entry)` as Linux writes it (low 32 bits).
const CORE_ENTRY_KSEG1: u32 = 0xa012_3000;

/// The kernel's view of the GCRs: `read_gcr_*` / `write_gcr_*`.
struct Kernel<'a> {
    cps: &'a mut Cps,
    /// The CPU running the code.
    cpu: u32,
}

impl Kernel<'_> {
    fn readl(&mut self, off: u64) -> u32 {
        self.cps.gcr_read(self.cpu, off, 4, 0).expect("GCR readl") as u32
    }
    fn writel(&mut self, off: u64, v: u32) {
        self.cps
            .gcr_write(self.cpu, off, 4, u64::from(v), 0)
            .expect("GCR writel");
    }
    /// `CPS_ACCESSOR_R` for a 64-bit register with `mips_cm_is64 == 0`.
    fn read64(&mut self, off: u64) -> u64 {
        let hi = u64::from(self.readl(off + 4));
        hi << 32 | u64::from(self.readl(off))
    }
    /// `CPS_ACCESSOR_W` for a 64-bit register with `mips_cm_is64 == 0`.
    fn write64(&mut self, off: u64, v: u64) {
        self.writel(off + 4, (v >> 32) as u32);
        self.writel(off, v as u32);
    }
    fn cpc_readl(&mut self, off: u64) -> u32 {
        self.cps.cpc_read(self.cpu, off, 4, 0).expect("CPC readl") as u32
    }
    fn cpc_writel(&mut self, off: u64, v: u32) {
        self.cps
            .cpc_write(self.cpu, off, 4, u64::from(v), 0)
            .expect("CPC writel");
    }
}

/// `GENMASK_ULL(hi, lo)`.
const fn genmask(hi: u32, lo: u32) -> u64 {
    (u64::MAX >> (63 - hi)) & !((1u64 << lo) - 1)
}

/// `mips_cm_probe()` and its helpers; returns `mips_cm_is64`.
fn mips_cm_probe(k: &mut Kernel<'_>, cmgcrbase: u64) -> bool {
    // __mips_cm_phys_base(): (CMGCRBase & ~0x7ff) << 4.
    let addr = (cmgcrbase & !0x7ff) << 4;
    assert_eq!(addr & genmask(47, 15), addr, "BUG_ON in mips_cm_probe");
    let base_reg = k.read64(0x008);
    assert_eq!(
        base_reg & genmask(47, 15),
        addr,
        "GCRs appear to have been moved"
    );
    // change_gcr_base(CM_GCR_BASE_CMDEFTGT, CM_GCR_BASE_CMDEFTGT_MEM)
    let v = k.read64(0x008) & !0x3;
    k.write64(0x008, v);
    for reg in [0x090, 0x0a0, 0x0b0, 0x0c0] {
        k.write64(reg, genmask(31, 16));
        k.write64(reg + 8, genmask(31, 16));
    }
    // mips_cm_probe_l2sync()
    let major = (k.readl(0x030) >> 8) & 0xff;
    if major >= 6 {
        let base_reg = k.read64(0x070);
        let addr = if base_reg & 1 != 0 {
            base_reg & genmask(31, 12)
        } else {
            ((cmgcrbase & !0x7ff) << 4) + 0x8000
        };
        assert_eq!(
            addr & genmask(31, 12),
            addr,
            "BUG_ON in mips_cm_probe_l2sync"
        );
        if addr != 0 {
            k.write64(0x070, addr | 1);
        }
    }
    k.readl(0x030) >= 0x0800
}

/// `mips_cpc_probe()` → `mips_cpc_phys_base()`; returns the CPC base.
fn mips_cpc_probe(k: &mut Kernel<'_>, dt_cpc_base: u64) -> Option<u64> {
    if k.readl(0x0f0) & 1 == 0 {
        return None;
    }
    let cpc_base = k.read64(0x088);
    if cpc_base & 1 != 0 {
        return Some(cpc_base & genmask(31, 15));
    }
    k.write64(0x088, dt_cpc_base | 1);
    Some(dt_cpc_base)
}

/// `mips_cm_lock_other(0, core, 0, LOCAL)` for CM < 3.
fn lock_other(k: &mut Kernel<'_>, core: u32) {
    k.writel(0x2018, core << 16);
}

/// `boot_core(core, 0)` with a CPC.
fn boot_core(k: &mut Kernel<'_>, core: u32) -> u32 {
    lock_other(k, core);
    k.writel(0x4020, CORE_ENTRY_KSEG1);
    k.writel(0x4008, 0);
    k.writel(0x4030, 1 << 30); // CM_GCR_Cx_RESET_EXT_BASE_UEB
    let access = k.readl(0x020);
    k.writel(0x020, access | 1 << core);
    // mips_cpc_lock_other(core)
    k.cpc_writel(0x2010, core << 16);
    k.cpc_writel(0x4000, 4); // CPC_Cx_CMD_RESET
    let mut polls = 0;
    loop {
        polls += 1;
        let stat = k.cpc_readl(0x4008);
        if (stat >> 19) & 0xf == 7 {
            break;
        }
        assert!(polls < 100, "core {core} never reached U6");
    }
    polls
}

#[test]
fn boot_cpu_probes_the_cm_and_cpc() {
    let mut cps = Cps::new(4, GCR, CPC, GIC).expect("valid");
    let mut k = Kernel {
        cps: &mut cps,
        cpu: 0,
    };
    assert!(!mips_cm_probe(&mut k, GCR >> 4), "CM 2.5: 32-bit accesses");
    assert_eq!(mips_cpc_probe(&mut k, CPC), Some(CPC));
    // register_cps_smp_ops(): GCR_GIC_STATUS.EX.
    assert_eq!(k.readl(0x0d0) & 1, 1);
    assert_eq!(k.read64(0x008), GCR, "CMDEFTGT = memory");
    assert_eq!(cps.l2sync_window(), None, "no L2-only sync page mapped");
    assert!(!cps.has_events());
}

#[test]
fn probe_works_with_every_window_above_4_gib() {
    let (gcr, cpc, gic) = (0x10_0010_0000, 0x10_0020_0000, 0x10_0040_0000);
    let mut cps = Cps::new(2, gcr, cpc, gic).expect("valid");
    let mut k = Kernel {
        cps: &mut cps,
        cpu: 0,
    };
    assert!(!mips_cm_probe(&mut k, gcr >> 4));
    // CPCEN starts clear, so Linux takes the DT address and enables it.
    assert_eq!(mips_cpc_probe(&mut k, cpc), Some(cpc));
    assert_eq!(cps.cpc_window(), Some(cpc));
    // gic_of_init(): GCR_GIC_BASE = reg | GICEN.
    let mut k = Kernel {
        cps: &mut cps,
        cpu: 0,
    };
    k.write64(0x080, gic | 1);
    assert_eq!(cps.gic_window(), Some(gic));
}

#[test]
fn cps_smp_setup_sees_the_cores_and_makes_core_0_coherent() {
    let mut cps = Cps::new(4, GCR, CPC, GIC).expect("valid");
    let mut k = Kernel {
        cps: &mut cps,
        cpu: 0,
    };
    // mips_cps_numcores(0): FIELD_GET(PCORES, GCR_CONFIG + 1).
    let ncores = (k.read64(0x000) + 1) & 0xff;
    assert_eq!(ncores, 4);
    // mips_cm_max_vp_width() for CM < 3: GCR_CL_CONFIG.PVPE + 1.
    assert_eq!((k.readl(0x2010) & 0x3ff) + 1, 1);
    k.writel(0x2008, 0xff); // write_gcr_cl_coherence(0xff)
    assert_eq!(k.readl(0x2008), 0xff);
    // cps_pm_init(): CPC_CL_STAT_CONF.CLKGAT_IMPL.
    assert_eq!(k.cpc_readl(0x2008) & (1 << 17), 0);
    assert!(!cps.has_events());
}

#[test]
fn boot_core_2_through_the_cpc_and_run_its_entry_code() {
    let mut cps = Cps::new(4, GCR, CPC, GIC).expect("valid");
    let mut k = Kernel {
        cps: &mut cps,
        cpu: 0,
    };
    assert_eq!(boot_core(&mut k, 2), 1, "U6 on the first poll");
    assert_eq!(k.readl(0x020), 1 << 2, "GCR_ACCESS");
    assert_eq!(
        cps.take_events(),
        vec![CpsEvent::StartCore {
            core: 2,
            reset_pc: 0xffff_ffff_a012_3000
        }]
    );
    assert!(cps.core_running(2));
    assert!(!cps.core_running(1) && !cps.core_running(3));
    // mips_cps_core_entry on CPU 2: GCR_CL_COHERENCE is 0 → init caches,
    // then join the coherent domain; mips_cps_get_bootcfg: GCR_CL_ID.
    let mut k = Kernel {
        cps: &mut cps,
        cpu: 2,
    };
    assert_eq!(k.readl(0x2008), 0);
    k.writel(0x2008, 0xff);
    assert_eq!(k.readl(0x2028) & 0xff, 2);
    // Core 0 still sees its own registers.
    let mut k = Kernel {
        cps: &mut cps,
        cpu: 0,
    };
    assert_eq!(k.readl(0x2028), 0);
    assert_eq!(k.readl(0x4008), 0xff, "core-other still selects core 2");
    // IPI kick (mips_smp_send_ipi_mask): PWRUP to the not yet coherent core.
    for _ in 0..3 {
        lock_other(&mut k, 2);
        k.cpc_writel(0x2010, 2 << 16);
        k.cpc_writel(0x4000, 3);
    }
    assert!(cps.take_events().is_empty(), "PWRUP on a running core");
}

#[test]
fn boot_core_without_a_cpc_uses_reset_release() {
    let mut cps = Cps::new(2, GCR, CPC, GIC).expect("valid");
    let mut k = Kernel {
        cps: &mut cps,
        cpu: 0,
    };
    lock_other(&mut k, 1);
    k.writel(0x4020, CORE_ENTRY_KSEG1);
    k.writel(0x4008, 0);
    k.writel(0x4030, 1 << 30);
    k.writel(0x4000, 0); // write_gcr_co_reset_release(0)
    assert_eq!(
        cps.take_events(),
        vec![CpsEvent::StartCore {
            core: 1,
            reset_pc: 0xffff_ffff_a012_3000
        }]
    );
}

/// The kernel's view of the GIC from one CPU.
fn gic_readl(gic: &mut Gic, cpu: u32, off: u64) -> u32 {
    gic.read(cpu, off, 4, 0).expect("GIC readl") as u32
}

fn gic_writel(gic: &mut Gic, cpu: u32, off: u64, v: u32) {
    gic.write(cpu, off, 4, u64::from(v), 0).expect("GIC writel");
}

/// `change_gic_<bitmap>(intr, val)` with 32-bit words.
fn change_bit(gic: &mut Gic, cpu: u32, base: u64, intr: u32, val: bool) {
    let addr = base + u64::from(intr / 32) * 4;
    let mut word = gic_readl(gic, cpu, addr);
    word &= !(1 << (intr % 32));
    word |= u32::from(val) << (intr % 32);
    gic_writel(gic, cpu, addr, word);
}

/// `write_gic_<bitmap>(intr)` with 32-bit words (RMASK, SMASK).
fn write_bit(gic: &mut Gic, cpu: u32, base: u64, intr: u32) {
    gic_writel(gic, cpu, base + u64::from(intr / 32) * 4, 1 << (intr % 32));
}

/// `gic_of_init()` (shared part) on CPU 0 and `gic_cpu_startup()` on every
/// CPU; returns the number of shared interrupts.
fn gic_init(gic: &mut Gic, cpus: u32) -> u32 {
    let config = gic_readl(gic, 0, 0x0000);
    let shared = (((config >> 16) & 0xff) + 1) * 8;
    for i in 0..shared {
        change_bit(gic, 0, 0x100, i, true); // POL active high
        change_bit(gic, 0, 0x180, i, false); // TRIG level
        write_bit(gic, 0, 0x300, i); // RMASK
    }
    for cpu in 0..cpus {
        let ctl = gic_readl(gic, cpu, 0x8000) & !1;
        gic_writel(gic, cpu, 0x8000, ctl);
        gic_writel(gic, cpu, 0x800c, !0);
    }
    shared
}

/// `gic_set_type()`: (pol, trig, dual).
fn gic_set_type(gic: &mut Gic, intr: u32, pol: bool, trig: bool, dual: bool) {
    change_bit(gic, 0, 0x100, intr, pol);
    change_bit(gic, 0, 0x180, intr, trig);
    change_bit(gic, 0, 0x200, intr, dual);
}

/// `gic_shared_irq_domain_map()`: pin 0, VP `vp`.
fn gic_map(gic: &mut Gic, intr: u32, vp: u32) {
    gic_writel(gic, 0, 0x500 + u64::from(intr) * 4, 0x8000_0000);
    gic_writel(gic, 0, 0x2000 + u64::from(intr) * 0x20, 1 << vp);
}

/// `gic_handle_shared_int()`: the PEND words.
fn pending(gic: &mut Gic, cpu: u32, shared: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for w in 0..shared.div_ceil(32) {
        let word = gic_readl(gic, cpu, 0x480 + u64::from(w) * 4);
        for bit in 0..32 {
            if word & (1 << bit) != 0 {
                out.push(w * 32 + bit);
            }
        }
    }
    out
}

#[test]
fn gic_init_leaves_everything_masked_level_high_and_quiet() {
    let mut gic = Gic::new(4, DEFAULT_SHARED_IRQS).expect("valid");
    assert_eq!(gic_init(&mut gic, 4), 64);
    for w in 0..2 {
        assert_eq!(gic_readl(&mut gic, 0, 0x100 + w * 4), u32::MAX, "POL");
        assert_eq!(gic_readl(&mut gic, 0, 0x180 + w * 4), 0, "TRIG");
        assert_eq!(gic_readl(&mut gic, 0, 0x400 + w * 4), 0, "MASK");
        assert_eq!(gic_readl(&mut gic, 0, 0x480 + w * 4), 0, "PEND");
    }
    for cpu in 0..4 {
        assert_eq!(gic_readl(&mut gic, cpu, 0x8000), 0, "VL_CTL");
        assert_eq!(gic_readl(&mut gic, cpu, 0x8008), 0, "VL_MASK");
        assert_eq!(gic.cpu_pins(cpu), 0);
    }
    // A line raised while masked is pending but reaches no CPU.
    gic.set_shared_level(3, true);
    assert_eq!(pending(&mut gic, 0, 64), [3]);
    assert!((0..4).all(|vp| gic.cpu_pins(vp) == 0));
}

#[test]
fn level_interrupt_routed_to_vp_3_follows_its_input() {
    let mut gic = Gic::new(4, DEFAULT_SHARED_IRQS).expect("valid");
    let shared = gic_init(&mut gic, 4);
    // A device node with interrupts = <0 3 4>: mapped to CPU 0, level high.
    gic_map(&mut gic, 3, 0);
    gic_set_type(&mut gic, 3, true, false, false);
    write_bit(&mut gic, 0, 0x380, 3); // unmask
                                      // gic_set_affinity() to CPU 3.
    gic_writel(&mut gic, 0, 0x2000 + 3 * 0x20, 1 << 3);
    assert_eq!(gic_readl(&mut gic, 0, 0x400) & (1 << 3), 1 << 3);

    assert_eq!(gic.cpu_pins(3), 0);
    gic.set_shared_level(3, true);
    assert_eq!(gic.cpu_pins(3), 0b1, "pin 0 → Cause.IP2 of CPU 3");
    assert!((0..3).all(|vp| gic.cpu_pins(vp) == 0));
    assert_eq!(pending(&mut gic, 3, shared), [3]);
    // handle_level_irq: mask, handler, unmask.
    write_bit(&mut gic, 3, 0x300, 3);
    assert_eq!(gic.cpu_pins(3), 0, "masked");
    gic.set_shared_level(3, false); // the handler silenced the device
    write_bit(&mut gic, 3, 0x380, 3);
    assert_eq!(gic.cpu_pins(3), 0);
    assert!(pending(&mut gic, 3, shared).is_empty());
    // Level semantics: still asserted after unmask if the device still is.
    gic.set_shared_level(3, true);
    write_bit(&mut gic, 3, 0x300, 3);
    write_bit(&mut gic, 3, 0x380, 3);
    assert_eq!(gic.cpu_pins(3), 1);
    gic.set_shared_level(3, false);
    assert_eq!(gic.cpu_pins(3), 0, "no latch for level interrupts");
}

#[test]
fn ipis_are_sent_and_acked_through_wedge_with_edge_semantics() {
    const CPUS: u32 = 4;
    let mut gic = Gic::new(CPUS, DEFAULT_SHARED_IRQS).expect("valid");
    let shared = gic_init(&mut gic, CPUS);
    // gic_register_ipi_domain(): the top 2 × CPUs interrupts; call IPIs
    // first, then resched IPIs, one per CPU.
    let ipi_base = shared - 2 * CPUS;
    let call = |cpu: u32| ipi_base + cpu;
    let resched = |cpu: u32| ipi_base + CPUS + cpu;
    for cpu in 0..CPUS {
        for intr in [call(cpu), resched(cpu)] {
            gic_set_type(&mut gic, intr, true, true, false); // edge rising
            gic_map(&mut gic, intr, cpu);
            write_bit(&mut gic, 0, 0x380, intr); // request_irq → unmask
        }
    }
    assert_eq!((call(3), resched(3)), (59, 63));

    // gic_send_ipi(): CPU 0 sends the call IPI to CPU 3, twice.
    gic_writel(&mut gic, 0, 0x280, 0x8000_0000 | call(3));
    gic_writel(&mut gic, 0, 0x280, 0x8000_0000 | call(3));
    assert_eq!(gic.cpu_pins(3), 1);
    assert!((0..3).all(|vp| gic.cpu_pins(vp) == 0));
    // CPU 3 dispatches: PEND shows the IPI; handle_percpu_irq acks first.
    assert_eq!(pending(&mut gic, 3, shared), [59]);
    gic_writel(&mut gic, 3, 0x280, call(3));
    assert_eq!(gic.cpu_pins(3), 0, "one edge, one interrupt");
    assert!(pending(&mut gic, 3, shared).is_empty());
    // An IPI sent while the handler runs (after the ack) is kept.
    gic_writel(&mut gic, 1, 0x280, 0x8000_0000 | resched(3));
    assert_eq!(gic.cpu_pins(3), 1);
    assert_eq!(pending(&mut gic, 3, shared), [63]);
    // Both kinds to CPU 2 from CPU 3.
    gic_writel(&mut gic, 3, 0x280, 0x8000_0000 | call(2));
    gic_writel(&mut gic, 3, 0x280, 0x8000_0000 | resched(2));
    assert_eq!(pending(&mut gic, 2, shared), [58, 62, 63]);
    gic_writel(&mut gic, 2, 0x280, call(2));
    assert_eq!(gic.cpu_pins(2), 1, "resched still pending");
    gic_writel(&mut gic, 2, 0x280, resched(2));
    assert_eq!(gic.cpu_pins(2), 0);
    assert_eq!(gic.cpu_pins(3), 1);
}

#[test]
fn local_masks_of_all_vps_through_vl_other() {
    // gic_mask_local_irq_all_vpes / gic_unmask_local_irq_all_vpes.
    let mut gic = Gic::new(3, DEFAULT_SHARED_IRQS).expect("valid");
    gic_init(&mut gic, 3);
    for cpu in 0..3 {
        gic_writel(&mut gic, 0, 0x8080, cpu);
        gic_writel(&mut gic, 0, 0xc010, 1 << 2);
    }
    for cpu in 0..3 {
        assert_eq!(gic_readl(&mut gic, cpu, 0x8008), 1 << 2);
        assert_eq!(gic_readl(&mut gic, 1, 0x8088), 1);
    }
    gic_writel(&mut gic, 2, 0x8080, 1);
    gic_writel(&mut gic, 2, 0xc00c, 1 << 2);
    assert_eq!(gic_readl(&mut gic, 1, 0x8008), 0);
    assert_eq!(gic_readl(&mut gic, 2, 0xc088), 1);
}

mod prop {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        GcrRead(u32, u64, u8),
        GcrWrite(u32, u64, u8, u64),
        CpcRead(u32, u64, u8),
        CpcWrite(u32, u64, u8, u64),
        GicRead(u32, u64, u8, u64),
        GicWrite(u32, u64, u8, u64, u64),
        Level(u32, bool),
    }

    /// Offsets: mostly the interesting blocks, mostly aligned.
    fn offset(blocks: &'static [(u64, u64)]) -> impl Strategy<Value = u64> {
        let block = proptest::sample::select(blocks)
            .prop_flat_map(|(start, end)| start..end)
            .boxed();
        (prop_oneof![8 => block, 1 => any::<u64>()], any::<bool>()).prop_map(|(off, align)| {
            if align {
                off & !3
            } else {
                off
            }
        })
    }

    fn size() -> impl Strategy<Value = u8> {
        prop_oneof![6 => Just(4u8), 2 => Just(8u8), 1 => 0u8..=16]
    }

    fn value() -> impl Strategy<Value = u64> {
        prop_oneof![
            any::<u64>(),
            0u64..16,
            (0u64..8).prop_map(|c| c << 16),
            (0u64..=0xff).prop_map(|n| 0x8000_0000 | n),
        ]
    }

    const GCR_BLOCKS: &[(u64, u64)] =
        &[(0, 0x100), (0x2000, 0x2040), (0x4000, 0x4040), (0, 0x8100)];
    const CPC_BLOCKS: &[(u64, u64)] = &[(0, 0x40), (0x2000, 0x2040), (0x4000, 0x4040), (0, 0x8100)];
    const GIC_BLOCKS: &[(u64, u64)] = &[
        (0, 0x40),
        (0x100, 0x500),
        (0x500, 0x600),
        (0x2000, 0x2800),
        (0x8000, 0x80c0),
        (0xc000, 0xc0c0),
        (0x1_0000, 0x1_0010),
        (0, 0x2_0100),
    ];

    fn op() -> impl Strategy<Value = Op> {
        let cpu = 0u32..6;
        prop_oneof![
            (cpu.clone(), offset(GCR_BLOCKS), size()).prop_map(|(c, o, s)| Op::GcrRead(c, o, s)),
            (cpu.clone(), offset(GCR_BLOCKS), size(), value())
                .prop_map(|(c, o, s, v)| Op::GcrWrite(c, o, s, v)),
            (cpu.clone(), offset(CPC_BLOCKS), size()).prop_map(|(c, o, s)| Op::CpcRead(c, o, s)),
            (cpu.clone(), offset(CPC_BLOCKS), size(), value())
                .prop_map(|(c, o, s, v)| Op::CpcWrite(c, o, s, v)),
            (cpu.clone(), offset(GIC_BLOCKS), size(), any::<u64>())
                .prop_map(|(c, o, s, t)| Op::GicRead(c, o, s, t)),
            (cpu, offset(GIC_BLOCKS), size(), value(), any::<u64>())
                .prop_map(|(c, o, s, v, t)| Op::GicWrite(c, o, s, v, t)),
            (0u32..80, any::<bool>()).prop_map(|(i, l)| Op::Level(i, l)),
        ]
    }

    /// Whether an access must be accepted (CPUs 0..4 exist).
    fn valid(cpu: u32, off: u64, size: u8, window: u64) -> bool {
        cpu < 4
            && off < window
            && match size {
                4 => off.is_multiple_of(4),
                8 => off.is_multiple_of(8),
                _ => false,
            }
    }

    proptest! {
        #[test]
        fn random_register_traffic_never_panics(ops in proptest::collection::vec(op(), 0..300)) {
            let mut cps = Cps::new(4, GCR, CPC, GIC).expect("valid");
            let mut gic = Gic::new(4, DEFAULT_SHARED_IRQS).expect("valid");
            for op in ops {
                match op {
                    Op::GcrRead(c, o, s) => {
                        let r = cps.gcr_read(c, o, s, 0);
                        prop_assert_eq!(r.is_ok(), valid(c, o, s, GCR_WINDOW_SIZE));
                        if s == 4 {
                            prop_assert!(r.unwrap_or(0) <= u64::from(u32::MAX));
                        }
                    }
                    Op::GcrWrite(c, o, s, v) => {
                        let r = cps.gcr_write(c, o, s, v, 0);
                        prop_assert_eq!(r.is_ok(), valid(c, o, s, GCR_WINDOW_SIZE));
                    }
                    Op::CpcRead(c, o, s) => {
                        let r = cps.cpc_read(c, o, s, 0);
                        prop_assert_eq!(r.is_ok(), valid(c, o, s, CPC_WINDOW_SIZE));
                    }
                    Op::CpcWrite(c, o, s, v) => {
                        let r = cps.cpc_write(c, o, s, v, 0);
                        prop_assert_eq!(r.is_ok(), valid(c, o, s, CPC_WINDOW_SIZE));
                    }
                    Op::GicRead(c, o, s, t) => {
                        let r = gic.read(c, o, s, t);
                        prop_assert_eq!(r.is_ok(), valid(c, o, s, GIC_WINDOW_SIZE));
                    }
                    Op::GicWrite(c, o, s, v, t) => {
                        let r = gic.write(c, o, s, v, t);
                        prop_assert_eq!(r.is_ok(), valid(c, o, s, GIC_WINDOW_SIZE));
                    }
                    Op::Level(i, l) => gic.set_shared_level(i, l),
                }
                for event in cps.take_events() {
                    match event {
                        CpsEvent::StartCore { core, reset_pc } => {
                            prop_assert!(core < 4);
                            prop_assert!(cps.core_running(core));
                            prop_assert_eq!(reset_pc & 0xfff, 0);
                            prop_assert_eq!(reset_pc as i64, i64::from(reset_pc as i32));
                        }
                        CpsEvent::StopCore { core } => {
                            prop_assert!(core < 4);
                            prop_assert!(!cps.core_running(core));
                        }
                    }
                }
                for vp in 0..6 {
                    let pins = gic.cpu_pins(vp);
                    prop_assert!(pins < 1 << 6);
                    if vp >= 4 {
                        prop_assert_eq!(pins, 0);
                    }
                }
            }
        }
    }
}
