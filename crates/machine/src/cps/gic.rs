//! The MIPS Global Interrupt Controller (GIC), non-EIC mode, as Linux 6.1's
//! `drivers/irqchip/irq-mips-gic.c` uses it with a CM 2.5 (32-bit accesses,
//! bitmaps as 32-bit words).
//!
//! # Window (0x20000 bytes)
//!
//! Shared section (0x0000..0x7fff), one bit or word per shared interrupt
//! `n` (`n < shared_irqs`; bitmap words hold interrupts `32k..32k+31` at
//! `base + 4k`; bits and words beyond `shared_irqs` read 0 and ignore
//! writes):
//!
//! | offset | register | model |
//! |--------|----------|-------|
//! | 0x0000 | GIC_SH_CONFIG | COUNTSTOP 28 (read/write), COUNTBITS 27:24 = 8 (64-bit counter), NUMINTERRUPTS 23:16 = shared/8 − 1, PVPS 6:0 = VPs − 1 |
//! | 0x0010 / 0x0014 | GIC_SH_COUNTER lo / hi | [`GIC_COUNTER_HZ`] ticks since simulated time 0 while COUNTSTOP is clear; writable only while COUNTSTOP is set |
//! | 0x0100 | GIC_SH_POL | 1 = active high / rising edge; read/write; **resets to all ones** |
//! | 0x0180 | GIC_SH_TRIG | 1 = edge, 0 = level; read/write; resets to 0 |
//! | 0x0200 | GIC_SH_DUAL | 1 = both edges (edge mode only); read/write; resets to 0 |
//! | 0x0280 | GIC_SH_WEDGE (W) | bit 31 set: latch interrupt `bits 7:0` pending; clear: un-latch it; reads 0 |
//! | 0x0300 | GIC_SH_RMASK (W1) | 1 bits disable; reads 0 |
//! | 0x0380 | GIC_SH_SMASK (W1) | 1 bits enable; reads 0 |
//! | 0x0400 | GIC_SH_MASK (RO) | enables; reset 0 (all masked) |
//! | 0x0480 | GIC_SH_PEND (RO) | pending state (below), whether enabled or not |
//! | 0x0500 + 4n | GIC_SH_MAPn_PIN | MAP_TO_PIN 31, MAP_TO_NMI 30, pin 5:0, stored; reset 0x8000_0000 (pin 0) |
//! | 0x2000 + 0x20n (+4) | GIC_SH_MAPn_VP | VP bitmask, VPs 0..31 in the first word, 32..63 in the second; reset 0 |
//!
//! VP-local section (0x8000..0xbfff: the accessing VP) and VP-other section
//! (0xc000..0xffff: the VP selected by the accessing VP's VL_OTHER; a
//! selection naming no VP reads 0 and ignores writes):
//!
//! | offset | register | model |
//! |--------|----------|-------|
//! | 0x000 | VL_CTL | EIC bit 0 read/write (no effect); the routable bits TIMER 1, PERFCNT 2, SWINT 3, FDC 4 **read 0**, so Linux leaves the CP0 timer and performance counter on their own CPU lines (IntCtl.IPTI / IPPCI) |
//! | 0x004 | VL_PEND (RO) | 0: no local source (watchdog, GIC compare, …) is modelled |
//! | 0x008 | VL_MASK (RO) | local enables (bits 6:0) |
//! | 0x00c / 0x010 | VL_RMASK / VL_SMASK (W1) | clear / set local enables |
//! | 0x040..0x058 | VL_*_MAP (WD, COMPARE, TIMER, FDC, PERFCTR, SWINT0, SWINT1) | stored (31, 30, 5:0), no effect |
//! | 0x080 | VL_OTHER | VPNUM 5:0, stored |
//! | 0x088 | VL_IDENT (RO) | the VP's own number |
//! | 0x0a0 / 0x0a4 | VL_COMPARE lo / hi | stored, no effect (no GIC timer interrupt) |
//!
//! User section (0x10000..0x1ffff): the counter, read-only, at 0x10000
//! (lo) / 0x10004 (hi). Every other word of the window reads 0 and ignores
//! writes.
//!
//! # Interrupt state
//!
//! Each shared interrupt `n` has an input line ([`Gic::set_shared_level`])
//! and an edge latch. It is **pending** when
//!
//! * it is level-triggered (TRIG = 0) and its input is at the active level
//!   (input == POL: high for active-high, low for active-low) — level
//!   semantics: pending follows the input, nothing is latched, there is
//!   nothing to acknowledge; or
//! * its edge latch is set. The latch is set by an active edge of the input
//!   while the interrupt is edge-triggered (TRIG = 1; rising edge for POL =
//!   1, falling for POL = 0, either with DUAL = 1) and by a WEDGE write with
//!   bit 31 set; only a WEDGE write with bit 31 clear clears it. A WEDGE set
//!   on a level-triggered interrupt therefore also latches it (Linux never
//!   does that).
//!
//! [`Gic::cpu_pins`]`(vp)` has bit `p` set when some shared interrupt is
//! pending, enabled (MASK), routed to a pin (MAP_TO_PIN) whose number is `p`
//! (`p` < 6; larger pin numbers go nowhere), and has `vp` in its MAP_VP
//! bitmask. MAP_TO_NMI is stored but ignored. The board feeds pin `p` to the
//! CPU's `Cause.IP(p+2)`.
//!
//! The reset POL of all ones (active high) is a choice of this model: with
//! every input idle (low) nothing is pending before Linux has programmed
//! the GIC. Linux sets every shared interrupt to active-high level anyway.
//!
//! # How Linux 6.1 drives it (`irq-mips-gic.c`, `arch/mips/kernel/smp.c`)
//!
//! * **Init** (`gic_of_init`, on CPU 0): writes `GCR_GIC_BASE = reg |
//!   GICEN`, reads GIC_SH_CONFIG (`shared = (NUMINTERRUPTS + 1) × 8`), picks
//!   CPU vector 2 (the first not in {0, 1}) ⇒ GIC pin 0 and chains its
//!   handler to CPU IRQ 2. Reserves the top `2 × num_possible_cpus()` shared
//!   interrupts for IPIs. Then for every shared interrupt: POL bit ← 1 and
//!   TRIG bit ← 0 by read-modify-write of the bitmap words, and RMASK ← its
//!   bit.
//! * **Per CPU** (`gic_cpu_startup`): VL_CTL.EIC ← 0 (read-modify-write),
//!   VL_RMASK ← ~0; local timer/perf/FDC maps only if routable (they are
//!   not).
//! * **Device interrupt** `<0 N 4>` (`gic_irq_domain_map` +
//!   `gic_shared_irq_domain_map`): MAPn_PIN ← `0x8000_0000 | 0`, MAPn_VP ←
//!   `1 << vp(cpu 0)`; `gic_set_type` RMWs POL/TRIG/DUAL (level high: 1, 0,
//!   0); enable = SMASK bit (`gic_unmask_irq`), disable = RMASK bit.
//!   Level interrupts go through `handle_level_irq`: mask, run the handler
//!   (which silences the device, dropping the input), unmask — no GIC ack.
//! * **Dispatch** (`gic_handle_shared_int`): reads the PEND words
//!   (`__ioread32_copy`, `shared/32` words from 0x480), ANDs them with its
//!   own per-CPU mask of the interrupts it enabled for this CPU, and handles
//!   each set bit; local interrupts via VL_PEND & VL_MASK (always 0 here).
//! * **Affinity** (`gic_set_affinity`): MAPn_VP ← `1 << vp(new cpu)`; reads
//!   MASK to decide whether to move its per-CPU enable bit.
//! * **IPIs** (`gic_ipi_domain_alloc`, `mips_smp_ipi_allocate`): with 64
//!   shared interrupts and `C` possible CPUs the IPI range is `64 − 2C ..
//!   63`; the "call" IPIs take the first `C` (IPI for CPU `k` = shared
//!   `64 − 2C + k`), the "resched" IPIs the next `C`. Each is made
//!   edge-rising (POL 1, TRIG 1, DUAL 0), MAP_PIN pin 0, MAP_VP `1 << k`,
//!   and enabled by SMASK when requested. **Send** (`gic_send_ipi`): WEDGE ←
//!   `0x8000_0000 | n`. **Ack** (`gic_ack_irq`, called first by
//!   `handle_percpu_irq` / `handle_edge_irq`): WEDGE ← `n`, which clears the
//!   latch before the handler runs, so an IPI sent during the handler is
//!   not lost.
//! * After sending an IPI to a CPU that is not yet coherent, Linux also
//!   writes CPC PWRUP to its core (see [`super::cpc`]).

use serde::{Deserialize, Serialize};

use super::{half, read_words, write_words, CpsConfigError, CpuMmioDevice};
use crate::device::DeviceError;

/// Size of the GIC register window in bytes (the DT `reg` size).
pub const GIC_WINDOW_SIZE: u64 = 0x2_0000;
/// The number of shared interrupts a board should use.
pub const DEFAULT_SHARED_IRQS: u32 = 64;
/// The largest number of VPs supported (VL_OTHER.VPNUM is 6 bits).
pub const MAX_VPS: u32 = 64;
/// Rate of the GIC shared counter (GIC_SH_COUNTER), in Hz. Linux 6.1 only
/// uses the counter with an `mti,gic-timer` DT node, which the board does
/// not describe; a node would need `clock-frequency = <100000000>`.
pub const GIC_COUNTER_HZ: u64 = 100_000_000;

/// The largest number of shared interrupts (WEDGE holds 8 bits).
const MAX_SHARED_IRQS: u32 = 256;
/// Number of CPU pins a shared interrupt can be routed to (IP2..IP7).
const CPU_PINS: u32 = 6;
/// Number of local interrupt sources (WD, COMPARE, TIMER, PERFCTR, SWINT0,
/// SWINT1, FDC).
const LOCAL_INTRS: usize = 7;

/// GIC register offsets and fields.
mod reg {
    pub const SH_CONFIG: u64 = 0x0000;
    pub const SH_COUNTER_LO: u64 = 0x0010;
    pub const SH_COUNTER_HI: u64 = 0x0014;
    pub const SH_POL: u64 = 0x0100;
    pub const SH_TRIG: u64 = 0x0180;
    pub const SH_DUAL: u64 = 0x0200;
    pub const SH_WEDGE: u64 = 0x0280;
    pub const SH_RMASK: u64 = 0x0300;
    pub const SH_SMASK: u64 = 0x0380;
    pub const SH_MASK: u64 = 0x0400;
    pub const SH_PEND: u64 = 0x0480;
    /// Size of each bitmap region (room for 1024 interrupts).
    pub const BITMAP_SIZE: u64 = 0x80;
    pub const SH_MAP_PIN: u64 = 0x0500;
    /// End of the MAP_PIN region (256 interrupts).
    pub const SH_MAP_PIN_END: u64 = 0x0900;
    pub const SH_MAP_VP: u64 = 0x2000;
    /// Stride of the MAP_VP registers.
    pub const SH_MAP_VP_STRIDE: u64 = 0x20;
    /// End of the MAP_VP region (256 interrupts).
    pub const SH_MAP_VP_END: u64 = 0x4000;

    pub const VP_LOCAL: u64 = 0x8000;
    pub const VP_OTHER: u64 = 0xc000;
    pub const VP_BLOCK_SIZE: u64 = 0x4000;
    pub const USER: u64 = 0x1_0000;

    pub const VL_CTL: u64 = 0x000;
    pub const VL_PEND: u64 = 0x004;
    pub const VL_MASK: u64 = 0x008;
    pub const VL_RMASK: u64 = 0x00c;
    pub const VL_SMASK: u64 = 0x010;
    pub const VL_MAP: u64 = 0x040;
    /// End (exclusive) of the local MAP registers.
    pub const VL_MAP_END: u64 = 0x05c;
    pub const VL_OTHER: u64 = 0x080;
    pub const VL_IDENT: u64 = 0x088;
    pub const VL_COMPARE_LO: u64 = 0x0a0;
    pub const VL_COMPARE_HI: u64 = 0x0a4;

    /// GIC_SH_CONFIG.COUNTSTOP.
    pub const COUNTSTOP: u32 = 1 << 28;
    /// GIC_SH_CONFIG.COUNTBITS = 8: a 32 + 4 × 8 = 64-bit counter.
    pub const COUNTBITS_64: u32 = 8 << 24;
    pub const NUMINTERRUPTS_SHIFT: u32 = 16;
    /// GIC_SH_WEDGE.RW.
    pub const WEDGE_RW: u32 = 1 << 31;
    /// GIC_SH_WEDGE.INTR.
    pub const WEDGE_INTR: u32 = 0xff;
    /// MAP_TO_PIN.
    pub const MAP_TO_PIN: u32 = 1 << 31;
    /// Stored bits of a MAP register (MAP_TO_PIN, MAP_TO_NMI, MAP 5:0).
    pub const MAP_MASK: u32 = 0xc000_003f;
    /// The pin number of a MAP register.
    pub const MAP_PIN: u32 = 0x3f;
    /// VL_CTL.EIC.
    pub const CTL_EIC: u32 = 1;
    /// The local interrupt bits of VL_MASK etc.
    pub const LOCAL_MASK: u32 = 0x7f;
    /// VL_OTHER.VPNUM.
    pub const OTHER_VPNUM: u32 = 0x3f;
}

/// The GIC shared counter, derived from simulated time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Counter {
    /// COUNTSTOP is set.
    stopped: bool,
    /// The count at `since_ns` (or the frozen count while stopped).
    base: u64,
    /// Simulated time the count was `base`.
    since_ns: u64,
}

impl Counter {
    fn value(&self, now_ns: u64) -> u64 {
        if self.stopped {
            return self.base;
        }
        let elapsed = u128::from(now_ns.saturating_sub(self.since_ns));
        let ticks = elapsed * u128::from(GIC_COUNTER_HZ) / 1_000_000_000;
        self.base.wrapping_add(ticks as u64)
    }

    fn set_stopped(&mut self, stop: bool, now_ns: u64) {
        if stop && !self.stopped {
            self.base = self.value(now_ns);
            self.stopped = true;
        } else if !stop && self.stopped {
            self.since_ns = now_ns;
            self.stopped = false;
        }
    }
}

/// The VP-local registers of one VP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct VpLocal {
    /// VL_CTL (only the EIC bit is stored).
    ctl: u32,
    /// VL_MASK.
    mask: u32,
    /// VL_OTHER.
    other: u32,
    /// VL_WD_MAP .. VL_SWINT1_MAP.
    map: [u32; LOCAL_INTRS],
    /// VL_COMPARE.
    compare: u64,
}

impl VpLocal {
    fn new() -> Self {
        VpLocal {
            ctl: 0,
            mask: 0,
            other: 0,
            map: [reg::MAP_TO_PIN; LOCAL_INTRS],
            compare: 0,
        }
    }
}

/// The Global Interrupt Controller (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gic {
    vps: u32,
    shared_irqs: u32,
    /// GIC_SH_POL words.
    pol: Vec<u32>,
    /// GIC_SH_TRIG words.
    trig: Vec<u32>,
    /// GIC_SH_DUAL words.
    dual: Vec<u32>,
    /// GIC_SH_MASK words (enables).
    mask: Vec<u32>,
    /// Edge latches.
    latch: Vec<u32>,
    /// Input line levels.
    input: Vec<u32>,
    /// GIC_SH_MAPn_PIN.
    map_pin: Vec<u32>,
    /// GIC_SH_MAPn_VP (VP bitmask).
    map_vp: Vec<u64>,
    counter: Counter,
    local: Vec<VpLocal>,
}

impl Gic {
    /// A GIC for `vps` VPs (1..=64) with `shared_irqs` shared interrupts (a
    /// multiple of 8 in 8..=256; use [`DEFAULT_SHARED_IRQS`]). All shared
    /// interrupts start masked, active-high, level-triggered, mapped to pin
    /// 0 of no VP.
    pub fn new(vps: u32, shared_irqs: u32) -> Result<Self, CpsConfigError> {
        if vps == 0 || vps > MAX_VPS {
            return Err(CpsConfigError::BadCoreCount(vps));
        }
        if shared_irqs == 0 || !shared_irqs.is_multiple_of(8) || shared_irqs > MAX_SHARED_IRQS {
            return Err(CpsConfigError::BadSharedIrqCount(shared_irqs));
        }
        let words = shared_irqs.div_ceil(32) as usize;
        let n = shared_irqs as usize;
        let mut gic = Gic {
            vps,
            shared_irqs,
            pol: vec![0; words],
            trig: vec![0; words],
            dual: vec![0; words],
            mask: vec![0; words],
            latch: vec![0; words],
            input: vec![0; words],
            map_pin: vec![reg::MAP_TO_PIN; n],
            map_vp: vec![0; n],
            counter: Counter {
                stopped: false,
                base: 0,
                since_ns: 0,
            },
            local: (0..vps).map(|_| VpLocal::new()).collect(),
        };
        for w in 0..words {
            gic.pol[w] = gic.valid_bits(w);
        }
        Ok(gic)
    }

    /// True when `self` (restored from a checkpoint, say) has the register
    /// arrays of `fresh`, a GIC built by [`Gic::new`] for the same machine.
    pub fn has_shape_of(&self, fresh: &Gic) -> bool {
        self.vps == fresh.vps
            && self.shared_irqs == fresh.shared_irqs
            && [
                &self.pol,
                &self.trig,
                &self.dual,
                &self.mask,
                &self.latch,
                &self.input,
            ]
            .iter()
            .all(|words| words.len() == fresh.pol.len())
            && self.map_pin.len() == fresh.map_pin.len()
            && self.map_vp.len() == fresh.map_vp.len()
            && self.local.len() == fresh.local.len()
    }

    /// The number of VPs.
    pub fn vps(&self) -> u32 {
        self.vps
    }

    /// The number of shared interrupts.
    pub fn shared_irqs(&self) -> u32 {
        self.shared_irqs
    }

    /// Sets the input line of shared interrupt `irq` (a device's
    /// level-triggered, active-high output). Out-of-range numbers are
    /// ignored.
    pub fn set_shared_level(&mut self, irq: u32, level: bool) {
        if irq >= self.shared_irqs {
            return;
        }
        let (w, bit) = ((irq / 32) as usize, 1u32 << (irq % 32));
        let old = self.input[w] & bit != 0;
        if old == level {
            return;
        }
        if self.trig[w] & bit != 0 {
            let active = if self.dual[w] & bit != 0 {
                true
            } else if self.pol[w] & bit != 0 {
                level
            } else {
                !level
            };
            if active {
                self.latch[w] |= bit;
            }
        }
        if level {
            self.input[w] |= bit;
        } else {
            self.input[w] &= !bit;
        }
    }

    /// Whether shared interrupt `irq` is pending (GIC_SH_PEND).
    pub fn shared_pending(&self, irq: u32) -> bool {
        irq < self.shared_irqs && self.pending_word((irq / 32) as usize) & (1 << (irq % 32)) != 0
    }

    /// Whether shared interrupt `irq` is enabled (GIC_SH_MASK).
    pub fn shared_enabled(&self, irq: u32) -> bool {
        irq < self.shared_irqs && self.mask[(irq / 32) as usize] & (1 << (irq % 32)) != 0
    }

    /// The CPU interrupt pins of VP `vp`: bit `p` set when pin `p` (→
    /// `Cause.IP(p+2)`) is asserted. 0 for a VP that does not exist.
    pub fn cpu_pins(&self, vp: u32) -> u8 {
        if vp >= self.vps {
            return 0;
        }
        let mut pins = 0u8;
        for w in 0..self.mask.len() {
            let mut active = self.pending_word(w) & self.mask[w];
            while active != 0 {
                let irq = w * 32 + active.trailing_zeros() as usize;
                active &= active - 1;
                let map = self.map_pin[irq];
                let pin = map & reg::MAP_PIN;
                if map & reg::MAP_TO_PIN != 0 && pin < CPU_PINS && (self.map_vp[irq] >> vp) & 1 != 0
                {
                    pins |= 1 << pin;
                }
            }
        }
        pins
    }

    /// The bits of bitmap word `w` that name existing interrupts.
    fn valid_bits(&self, w: usize) -> u32 {
        let first = w as u32 * 32;
        match self.shared_irqs.saturating_sub(first) {
            0 => 0,
            n if n >= 32 => u32::MAX,
            n => (1 << n) - 1,
        }
    }

    /// The pending bits of bitmap word `w`.
    fn pending_word(&self, w: usize) -> u32 {
        let level_active = !self.trig[w] & !(self.input[w] ^ self.pol[w]);
        (self.latch[w] | level_active) & self.valid_bits(w)
    }

    /// The accessing VP as an index, or an error if it does not exist.
    fn check_vp(&self, vp: u32) -> Result<usize, DeviceError> {
        if vp < self.vps {
            Ok(vp as usize)
        } else {
            Err(DeviceError)
        }
    }

    /// The VP a VP-local or VP-other access by `vp` at `offset` targets and
    /// the offset in its block: `None` outside those sections,
    /// `Some((None, _))` when VL_OTHER names no existing VP.
    fn vp_block(&self, vp: usize, offset: u64) -> Option<(Option<usize>, u64)> {
        let block = offset & !(reg::VP_BLOCK_SIZE - 1);
        let inner = offset & (reg::VP_BLOCK_SIZE - 1);
        match block {
            reg::VP_LOCAL => Some((Some(vp), inner)),
            reg::VP_OTHER => {
                let other = (self.local[vp].other & reg::OTHER_VPNUM) as usize;
                Some(((other < self.local.len()).then_some(other), inner))
            }
            _ => None,
        }
    }

    /// The bitmap register and word index of a shared-section offset.
    fn bitmap(offset: u64) -> Option<(u64, usize)> {
        let base = offset & !(reg::BITMAP_SIZE - 1);
        let word = ((offset - base) / 4) as usize;
        matches!(
            base,
            reg::SH_POL
                | reg::SH_TRIG
                | reg::SH_DUAL
                | reg::SH_RMASK
                | reg::SH_SMASK
                | reg::SH_MASK
                | reg::SH_PEND
        )
        .then_some((base, word))
    }

    fn read_word(&self, vp: usize, offset: u64, now_ns: u64) -> u32 {
        if let Some((target, inner)) = self.vp_block(vp, offset) {
            return target.map_or(0, |t| self.local_read(t, inner));
        }
        if let Some((base, w)) = Self::bitmap(offset) {
            if w >= self.mask.len() {
                return 0;
            }
            return match base {
                reg::SH_POL => self.pol[w],
                reg::SH_TRIG => self.trig[w],
                reg::SH_DUAL => self.dual[w],
                reg::SH_MASK => self.mask[w],
                reg::SH_PEND => self.pending_word(w),
                // RMASK, SMASK: write-only.
                _ => 0,
            };
        }
        match offset {
            reg::SH_CONFIG => {
                let stop = if self.counter.stopped {
                    reg::COUNTSTOP
                } else {
                    0
                };
                stop | reg::COUNTBITS_64
                    | (self.shared_irqs / 8 - 1) << reg::NUMINTERRUPTS_SHIFT
                    | (self.vps - 1)
            }
            reg::SH_COUNTER_LO | reg::SH_COUNTER_HI => {
                half(self.counter.value(now_ns), offset == reg::SH_COUNTER_HI)
            }
            o if (reg::SH_MAP_PIN..reg::SH_MAP_PIN_END).contains(&o) => self
                .map_pin
                .get(((o - reg::SH_MAP_PIN) / 4) as usize)
                .copied()
                .unwrap_or(0),
            o if (reg::SH_MAP_VP..reg::SH_MAP_VP_END).contains(&o) => {
                let rel = o - reg::SH_MAP_VP;
                let irq = (rel / reg::SH_MAP_VP_STRIDE) as usize;
                let word = (rel % reg::SH_MAP_VP_STRIDE) / 4;
                match self.map_vp.get(irq) {
                    Some(&m) if word < 2 => half(m, word == 1),
                    _ => 0,
                }
            }
            o if o == reg::USER || o == reg::USER + 4 => {
                half(self.counter.value(now_ns), o == reg::USER + 4)
            }
            _ => 0,
        }
    }

    fn write_word(&mut self, vp: usize, offset: u64, value: u32, now_ns: u64) {
        if let Some((target, inner)) = self.vp_block(vp, offset) {
            if let Some(t) = target {
                self.local_write(t, inner, value);
            }
            return;
        }
        if let Some((base, w)) = Self::bitmap(offset) {
            if w >= self.mask.len() {
                return;
            }
            let value = value & self.valid_bits(w);
            match base {
                reg::SH_POL => self.pol[w] = value,
                reg::SH_TRIG => self.trig[w] = value,
                reg::SH_DUAL => self.dual[w] = value,
                reg::SH_RMASK => self.mask[w] &= !value,
                reg::SH_SMASK => self.mask[w] |= value,
                // MASK, PEND: read-only.
                _ => {}
            }
            return;
        }
        match offset {
            reg::SH_CONFIG => self
                .counter
                .set_stopped(value & reg::COUNTSTOP != 0, now_ns),
            reg::SH_COUNTER_LO | reg::SH_COUNTER_HI if self.counter.stopped => {
                let shift = if offset == reg::SH_COUNTER_HI { 32 } else { 0 };
                let keep = !(0xffff_ffffu64 << shift);
                self.counter.base = (self.counter.base & keep) | u64::from(value) << shift;
            }
            reg::SH_WEDGE => {
                let irq = value & reg::WEDGE_INTR;
                if irq < self.shared_irqs {
                    let (w, bit) = ((irq / 32) as usize, 1u32 << (irq % 32));
                    if value & reg::WEDGE_RW != 0 {
                        self.latch[w] |= bit;
                    } else {
                        self.latch[w] &= !bit;
                    }
                }
            }
            o if (reg::SH_MAP_PIN..reg::SH_MAP_PIN_END).contains(&o) => {
                if let Some(m) = self.map_pin.get_mut(((o - reg::SH_MAP_PIN) / 4) as usize) {
                    *m = value & reg::MAP_MASK;
                }
            }
            o if (reg::SH_MAP_VP..reg::SH_MAP_VP_END).contains(&o) => {
                let rel = o - reg::SH_MAP_VP;
                let irq = (rel / reg::SH_MAP_VP_STRIDE) as usize;
                let word = (rel % reg::SH_MAP_VP_STRIDE) / 4;
                let valid = u64::MAX >> (64 - self.vps);
                if let Some(m) = self.map_vp.get_mut(irq) {
                    if word < 2 {
                        let shift = 32 * word;
                        let keep = !(0xffff_ffffu64 << shift);
                        *m = ((*m & keep) | u64::from(value) << shift) & valid;
                    }
                }
            }
            _ => {}
        }
    }

    fn local_read(&self, vp: usize, inner: u64) -> u32 {
        let l = &self.local[vp];
        match inner {
            reg::VL_CTL => l.ctl,
            reg::VL_MASK => l.mask,
            reg::VL_OTHER => l.other,
            reg::VL_IDENT => vp as u32,
            reg::VL_COMPARE_LO => l.compare as u32,
            reg::VL_COMPARE_HI => (l.compare >> 32) as u32,
            o if (reg::VL_MAP..reg::VL_MAP_END).contains(&o) => l
                .map
                .get(((o - reg::VL_MAP) / 4) as usize)
                .copied()
                .unwrap_or(0),
            // No local interrupt source is modelled.
            reg::VL_PEND => 0,
            // RMASK/SMASK are write-only; everything else is unknown.
            _ => 0,
        }
    }

    fn local_write(&mut self, vp: usize, inner: u64, value: u32) {
        let l = &mut self.local[vp];
        match inner {
            reg::VL_CTL => l.ctl = value & reg::CTL_EIC,
            reg::VL_RMASK => l.mask &= !(value & reg::LOCAL_MASK),
            reg::VL_SMASK => l.mask |= value & reg::LOCAL_MASK,
            reg::VL_OTHER => l.other = value & reg::OTHER_VPNUM,
            reg::VL_COMPARE_LO => l.compare = (l.compare & !0xffff_ffff) | u64::from(value),
            reg::VL_COMPARE_HI => {
                l.compare = (l.compare & 0xffff_ffff) | u64::from(value) << 32;
            }
            o if (reg::VL_MAP..reg::VL_MAP_END).contains(&o) => {
                if let Some(m) = l.map.get_mut(((o - reg::VL_MAP) / 4) as usize) {
                    *m = value & reg::MAP_MASK;
                }
            }
            _ => {}
        }
    }
}

impl CpuMmioDevice for Gic {
    fn read(&mut self, cpu: u32, offset: u64, size: u8, now_ns: u64) -> Result<u64, DeviceError> {
        let vp = self.check_vp(cpu)?;
        read_words(offset, size, GIC_WINDOW_SIZE, |off| {
            self.read_word(vp, off, now_ns)
        })
    }

    fn write(
        &mut self,
        cpu: u32,
        offset: u64,
        size: u8,
        value: u64,
        now_ns: u64,
    ) -> Result<(), DeviceError> {
        let vp = self.check_vp(cpu)?;
        write_words(offset, size, value, GIC_WINDOW_SIZE, |off, v| {
            self.write_word(vp, off, v, now_ns)
        })
    }

    fn name(&self) -> &'static str {
        "gic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gic(vps: u32) -> Gic {
        Gic::new(vps, DEFAULT_SHARED_IRQS).expect("valid configuration")
    }

    fn rd(gic: &mut Gic, vp: u32, off: u64) -> u32 {
        gic.read(vp, off, 4, 0).expect("GIC read") as u32
    }

    fn wr(gic: &mut Gic, vp: u32, off: u64, v: u32) {
        gic.write(vp, off, 4, u64::from(v), 0).expect("GIC write");
    }

    #[test]
    fn bad_configurations_are_rejected() {
        assert_eq!(Gic::new(0, 64), Err(CpsConfigError::BadCoreCount(0)));
        assert_eq!(Gic::new(65, 64), Err(CpsConfigError::BadCoreCount(65)));
        for n in [0, 12, 264] {
            assert_eq!(Gic::new(2, n), Err(CpsConfigError::BadSharedIrqCount(n)));
        }
        assert!(Gic::new(64, 256).is_ok());
        assert!(Gic::new(1, 8).is_ok());
    }

    #[test]
    fn sh_config_describes_the_gic() {
        let mut gic = gic(4);
        assert_eq!(gic.vps(), 4);
        assert_eq!(gic.shared_irqs(), 64);
        let config = rd(&mut gic, 0, 0);
        assert_eq!((config >> 16) & 0xff, 7, "(7 + 1) * 8 = 64 interrupts");
        assert_eq!((config >> 24) & 0xf, 8, "64-bit counter");
        assert_eq!(config & (1 << 28), 0, "counting");
        assert_eq!(config & 0x7f, 3, "PVPS = VPs - 1");
        let small = Gic::new(1, 8).expect("valid").read(0, 0, 4, 0);
        assert_eq!(small, Ok(8 << 24));
    }

    #[test]
    fn counter_counts_simulated_time_and_can_be_stopped() {
        let mut gic = gic(1);
        assert_eq!(gic.read(0, 0x10, 4, 1_000), Ok(100));
        assert_eq!(gic.read(0, 0x10, 8, 50_000_000_000), Ok(5_000_000_000));
        assert_eq!(gic.read(0, 0x14, 4, 50_000_000_000), Ok(1));
        assert_eq!(gic.read(0, 0x1_0000, 8, 2_000), Ok(200), "user alias");
        gic.write(0, 0x10, 4, 7, 3_000)
            .expect("ignored while counting");
        assert_eq!(gic.read(0, 0x10, 4, 3_000), Ok(300));
        gic.write(0, 0, 4, 1 << 28, 3_000).expect("COUNTSTOP");
        assert_eq!(gic.read(0, 0x10, 4, 9_000), Ok(300), "frozen");
        assert_ne!(gic.read(0, 0, 4, 9_000).expect("config") & (1 << 28), 0);
        gic.write(0, 0x14, 4, 2, 9_000).expect("hi");
        gic.write(0, 0x10, 4, 5, 9_000).expect("lo");
        gic.write(0, 0x1_0000, 4, 9, 9_000)
            .expect("user is read-only");
        assert_eq!(gic.read(0, 0x10, 8, 10_000), Ok(2 << 32 | 5));
        gic.write(0, 0, 4, 0, 10_000).expect("start");
        assert_eq!(gic.read(0, 0x10, 8, 11_000), Ok((2 << 32 | 5) + 100));
        // Time never runs backwards for the counter.
        assert_eq!(gic.read(0, 0x10, 8, 0), Ok(2 << 32 | 5));
    }

    #[test]
    fn bitmaps_read_back_and_ignore_nonexistent_interrupts() {
        let mut gic = Gic::new(2, 40).expect("valid");
        assert_eq!(rd(&mut gic, 0, 0x100), u32::MAX, "POL resets active high");
        assert_eq!(rd(&mut gic, 0, 0x104), 0xff, "interrupts 32..39 only");
        wr(&mut gic, 0, 0x184, u32::MAX);
        assert_eq!(rd(&mut gic, 0, 0x184), 0xff);
        wr(&mut gic, 0, 0x200, 0x8000_0001);
        assert_eq!(rd(&mut gic, 0, 0x200), 0x8000_0001);
        wr(&mut gic, 0, 0x108, u32::MAX);
        assert_eq!(rd(&mut gic, 0, 0x108), 0, "word 2 names no interrupt");
        wr(&mut gic, 0, 0x380, 0x11);
        assert_eq!(rd(&mut gic, 0, 0x400), 0x11);
        assert_eq!(rd(&mut gic, 0, 0x380), 0, "SMASK is write-only");
        wr(&mut gic, 0, 0x300, 0x01);
        assert_eq!(rd(&mut gic, 0, 0x400), 0x10);
        wr(&mut gic, 0, 0x400, u32::MAX);
        wr(&mut gic, 0, 0x480, u32::MAX);
        assert_eq!(rd(&mut gic, 0, 0x400), 0x10, "MASK is read-only");
        assert_eq!(rd(&mut gic, 0, 0x480), 0, "PEND is read-only");
        assert!(gic.shared_enabled(4));
        assert!(!gic.shared_enabled(0));
        assert!(!gic.shared_enabled(40));
        assert!(!gic.shared_pending(40));
    }

    #[test]
    fn level_interrupt_follows_polarity_adjusted_input() {
        let mut gic = gic(1);
        gic.set_shared_level(5, true);
        assert!(gic.shared_pending(5));
        assert_eq!(rd(&mut gic, 0, 0x480), 1 << 5);
        gic.set_shared_level(5, false);
        assert!(!gic.shared_pending(5));
        // Active low: pending while the input is low.
        wr(&mut gic, 0, 0x100, !(1 << 5));
        assert!(gic.shared_pending(5));
        gic.set_shared_level(5, true);
        assert!(!gic.shared_pending(5));
        // Out of range inputs are ignored.
        gic.set_shared_level(64, true);
        gic.set_shared_level(u32::MAX, true);
    }

    #[test]
    fn edge_interrupts_latch_the_active_edge() {
        let mut gic = gic(1);
        wr(&mut gic, 0, 0x180, 0b111); // 0, 1, 2 edge
        wr(&mut gic, 0, 0x100, 0b011 | !0b111); // 0, 1 rising, 2 falling
        wr(&mut gic, 0, 0x200, 0b010); // 1 dual
        gic.set_shared_level(0, true);
        gic.set_shared_level(2, true);
        assert_eq!(
            rd(&mut gic, 0, 0x480),
            0b001,
            "rising latched, no falling edge yet"
        );
        gic.set_shared_level(0, false);
        assert!(gic.shared_pending(0), "latched after the input drops");
        gic.set_shared_level(2, false);
        assert!(gic.shared_pending(2), "falling edge");
        gic.set_shared_level(1, true);
        wr(&mut gic, 0, 0x280, 1);
        assert!(!gic.shared_pending(1));
        gic.set_shared_level(1, false);
        assert!(gic.shared_pending(1), "dual: either edge");
        gic.set_shared_level(1, false);
        wr(&mut gic, 0, 0x280, 1);
        gic.set_shared_level(1, false);
        assert!(!gic.shared_pending(1), "no change, no edge");
        wr(&mut gic, 0, 0x280, 0);
        wr(&mut gic, 0, 0x280, 2);
        assert_eq!(rd(&mut gic, 0, 0x480), 0);
    }

    #[test]
    fn wedge_sets_and_clears_the_latch() {
        let mut gic = gic(1);
        wr(&mut gic, 0, 0x280, 0x8000_003f);
        assert!(gic.shared_pending(63));
        assert_eq!(rd(&mut gic, 0, 0x484), 1 << 31);
        assert_eq!(rd(&mut gic, 0, 0x280), 0, "WEDGE reads 0");
        wr(&mut gic, 0, 0x280, 0x3f);
        assert!(!gic.shared_pending(63));
        wr(&mut gic, 0, 0x280, 0x8000_0040);
        wr(&mut gic, 0, 0x280, 0x8000_00ff);
        assert_eq!(rd(&mut gic, 0, 0x480) | rd(&mut gic, 0, 0x484), 0);
        // A WEDGE on a level interrupt latches it too.
        wr(&mut gic, 0, 0x280, 0x8000_0003);
        assert!(gic.shared_pending(3));
        wr(&mut gic, 0, 0x280, 0x3);
        assert!(!gic.shared_pending(3));
    }

    #[test]
    fn pins_need_pending_enabled_mapped_and_routed() {
        let mut gic = gic(4);
        gic.set_shared_level(9, true);
        assert_eq!(gic.cpu_pins(1), 0, "masked, no VP");
        wr(&mut gic, 0, 0x2000 + 9 * 0x20, 1 << 1);
        assert_eq!(gic.cpu_pins(1), 0, "masked");
        wr(&mut gic, 0, 0x380, 1 << 9);
        assert_eq!(gic.cpu_pins(1), 0b1, "pin 0");
        assert_eq!(gic.cpu_pins(0), 0);
        wr(&mut gic, 0, 0x500 + 9 * 4, 0x8000_0005);
        assert_eq!(gic.cpu_pins(1), 1 << 5, "pin 5 -> IP7");
        wr(&mut gic, 0, 0x500 + 9 * 4, 0x8000_0006);
        assert_eq!(gic.cpu_pins(1), 0, "no pin 6");
        wr(&mut gic, 0, 0x500 + 9 * 4, 0x0000_0000);
        assert_eq!(gic.cpu_pins(1), 0, "MAP_TO_PIN clear");
        wr(&mut gic, 0, 0x500 + 9 * 4, 0xffff_ffff);
        assert_eq!(rd(&mut gic, 0, 0x500 + 9 * 4), 0xc000_003f);
        wr(&mut gic, 0, 0x500 + 9 * 4, 0x8000_0000);
        // A bitmask can name several VPs.
        wr(&mut gic, 0, 0x2000 + 9 * 0x20, 0b1011);
        assert_eq!(rd(&mut gic, 0, 0x2000 + 9 * 0x20), 0b1011);
        assert_eq!(
            (0..5).map(|vp| gic.cpu_pins(vp)).collect::<Vec<_>>(),
            [1, 1, 0, 1, 0]
        );
        wr(&mut gic, 0, 0x2000 + 9 * 0x20, u32::MAX);
        assert_eq!(rd(&mut gic, 0, 0x2000 + 9 * 0x20), 0xf, "4 VPs");
        assert_eq!(rd(&mut gic, 0, 0x2004 + 9 * 0x20), 0);
        assert_eq!(rd(&mut gic, 0, 0x2008 + 9 * 0x20), 0);
    }

    #[test]
    fn map_vp_covers_64_vps() {
        let mut gic = Gic::new(64, 256).expect("valid");
        wr(&mut gic, 0, 0x2004 + 255 * 0x20, 1 << 31);
        assert_eq!(gic.read(0, 0x2000 + 255 * 0x20, 8, 0), Ok(1 << 63));
        wr(&mut gic, 0, 0x280, 0x8000_00ff);
        wr(&mut gic, 0, 0x39c, 1 << 31);
        assert_eq!(gic.cpu_pins(63), 1);
        assert_eq!(gic.cpu_pins(62), 0);
        assert_eq!(gic.cpu_pins(64), 0, "no such VP");
        assert_eq!(rd(&mut gic, 63, 0x8088), 63);
    }

    #[test]
    fn vp_local_and_other_sections() {
        let mut gic = gic(4);
        for vp in 0..4 {
            assert_eq!(rd(&mut gic, vp, 0x8088), vp, "VL_IDENT");
            assert_eq!(rd(&mut gic, vp, 0x8000), 0, "nothing routable, no EIC");
        }
        wr(&mut gic, 1, 0x8000, 0xffff_ffff);
        assert_eq!(rd(&mut gic, 1, 0x8000), 1, "only EIC is writable");
        wr(&mut gic, 1, 0x8000, 0);
        wr(&mut gic, 2, 0x8010, 0xff);
        assert_eq!(rd(&mut gic, 2, 0x8008), 0x7f);
        wr(&mut gic, 2, 0x800c, 0x3);
        assert_eq!(rd(&mut gic, 2, 0x8008), 0x7c);
        assert_eq!(rd(&mut gic, 2, 0x8004), 0, "no local sources");
        assert_eq!(rd(&mut gic, 2, 0x800c), 0);
        // VP-other selects another VP's registers.
        wr(&mut gic, 0, 0x8080, 0xffff_ff02);
        assert_eq!(rd(&mut gic, 0, 0x8080), 2);
        assert_eq!(rd(&mut gic, 0, 0xc088), 2);
        assert_eq!(rd(&mut gic, 0, 0xc008), 0x7c);
        wr(&mut gic, 0, 0xc00c, u32::MAX);
        assert_eq!(rd(&mut gic, 2, 0x8008), 0);
        wr(&mut gic, 0, 0xc048, 0x8000_0001);
        assert_eq!(rd(&mut gic, 2, 0x8048), 0x8000_0001);
        assert_eq!(rd(&mut gic, 0, 0x8048), 0x8000_0000, "VP 0 untouched");
        wr(&mut gic, 0, 0xc0a0, 5);
        wr(&mut gic, 0, 0xc0a4, 6);
        assert_eq!(gic.read(2, 0x80a0, 8, 0), Ok(6 << 32 | 5));
        // A selection naming no VP reads 0 and ignores writes.
        wr(&mut gic, 0, 0x8080, 9);
        assert_eq!(rd(&mut gic, 0, 0xc088), 0);
        wr(&mut gic, 0, 0xc010, 0x7f);
        for vp in 0..4 {
            assert_ne!(rd(&mut gic, vp, 0x8008), 0x7f);
        }
        // Unknown local words.
        wr(&mut gic, 0, 0x8100, 1);
        assert_eq!(rd(&mut gic, 0, 0x8100), 0);
        assert_eq!(rd(&mut gic, 0, 0x805c), 0);
    }

    #[test]
    fn bad_accesses_are_errors() {
        let mut gic = gic(2);
        for size in [0, 1, 2, 3, 7, 9] {
            assert_eq!(gic.read(0, 0x480, size, 0), Err(DeviceError));
            assert_eq!(gic.write(0, 0x280, size, 0x8000_0000, 0), Err(DeviceError));
        }
        for off in [0x481, 0x2_0000, u64::MAX - 3] {
            assert_eq!(gic.read(0, off, 4, 0), Err(DeviceError));
            assert_eq!(gic.write(0, off, 4, 0x8000_0000, 0), Err(DeviceError));
        }
        assert_eq!(gic.read(0, 0x484, 8, 0), Err(DeviceError));
        assert_eq!(gic.read(2, 0x8088, 4, 0), Err(DeviceError), "no VP 2");
        assert_eq!(gic.write(5, 0x280, 4, 0x8000_0000, 0), Err(DeviceError));
        assert!(!gic.shared_pending(0));
        assert_eq!(gic.name(), "gic");
        assert_eq!(gic.read(0, 0x1_fff8, 8, 0), Ok(0));
    }

    #[test]
    fn state_round_trips_through_serde() {
        let mut gic = gic(2);
        wr(&mut gic, 0, 0x280, 0x8000_0030);
        wr(&mut gic, 0, 0x2000 + 0x30 * 0x20, 2);
        gic.set_shared_level(3, true);
        let json = serde_json::to_string(&gic).expect("serialize");
        let back: Gic = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, gic);
    }
}
