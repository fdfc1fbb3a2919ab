//! Accesses beyond RAM go to the machine's `Bus`: sizes, extension, bus
//! errors, the time of the access, interrupt lines and stop requests.

mod common;

use common::asm::*;
use common::harness::*;
use mips::cp0::status;
use mips::{Bus, BusError, ExcCode, RunExit};

/// Physical address of the test device, and its uncached KSEG1 address.
const DEV_PA: u64 = 0x1f00_0000;
const DEV: u64 = KSEG1 + DEV_PA;
/// Physical address where nothing answers.
const HOLE_PA: u64 = 0x1e00_0000;

#[derive(Debug, Default)]
struct TestBus {
    /// Value returned by reads (truncated to the access size).
    value: u64,
    /// (pa, size, cycle) of every read.
    reads: Vec<(u64, u8, u64)>,
    /// (pa, size, value truncated to size, cycle) of every write.
    writes: Vec<(u64, u8, u64, u64)>,
    /// Interrupt lines raised by the next write.
    irq_on_write: u8,
    irq: u8,
    stop_on_write: bool,
    stop: bool,
}

fn truncate(v: u64, size: u8) -> u64 {
    if size == 8 {
        v
    } else {
        v & ((1u64 << (8 * size)) - 1)
    }
}

impl Bus for TestBus {
    fn read(&mut self, pa: u64, size: u8, cycle: u64) -> Result<u64, BusError> {
        if pa & !0xfff != DEV_PA {
            return Err(BusError);
        }
        self.reads.push((pa, size, cycle));
        Ok(truncate(self.value, size))
    }
    fn write(&mut self, pa: u64, size: u8, value: u64, cycle: u64) -> Result<(), BusError> {
        if pa & !0xfff != DEV_PA {
            return Err(BusError);
        }
        self.writes.push((pa, size, truncate(value, size), cycle));
        self.irq |= self.irq_on_write;
        self.stop |= self.stop_on_write;
        Ok(())
    }
    fn irq_lines(&mut self) -> u8 {
        self.irq
    }
    fn stop_requested(&self) -> bool {
        self.stop
    }
}

fn machine() -> Machine<TestBus> {
    let mut m = Machine::with_bus(TestBus::default(), RAM_SIZE);
    m.set(A0, DEV);
    m
}

#[test]
fn device_loads_are_sized_and_extended_like_memory_loads() {
    let mut m = machine();
    m.bus.value = 0x8877_6655_8433_8280;
    m.program(&[
        lb(V0, 0, A0),
        lbu(V1, 1, A0),
        lh(A1, 2, A0),
        lhu(A2, 4, A0),
        lw(A3, 8, A0),
        lwu(T0, 12, A0),
        ld(T1, 16, A0),
    ]);
    m.run_to_sentinel();
    let got: Vec<u64> = [V0, V1, A1, A2, A3, T0, T1]
        .iter()
        .map(|&r| m.reg(r))
        .collect();
    assert_eq!(
        got,
        [
            0xffff_ffff_ffff_ff80,
            0x80,
            0xffff_ffff_ffff_8280,
            0x8280,
            0xffff_ffff_8433_8280,
            0x8433_8280,
            0x8877_6655_8433_8280
        ]
    );
    let accesses: Vec<(u64, u8)> = m
        .bus
        .reads
        .iter()
        .map(|&(pa, size, _)| (pa, size))
        .collect();
    assert_eq!(
        accesses,
        [
            (DEV_PA, 1),
            (DEV_PA + 1, 1),
            (DEV_PA + 2, 2),
            (DEV_PA + 4, 2),
            (DEV_PA + 8, 4),
            (DEV_PA + 12, 4),
            (DEV_PA + 16, 8)
        ]
    );
}

#[test]
fn device_stores_carry_their_size_and_value() {
    let mut m = machine();
    m.set(V0, 0x1122_3344_5566_7788);
    m.program(&[sb(V0, 3, A0), sh(V0, 6, A0), sw(V0, 8, A0), sd(V0, 16, A0)]);
    m.run_to_sentinel();
    let writes: Vec<(u64, u8, u64)> = m
        .bus
        .writes
        .iter()
        .map(|&(pa, s, v, _)| (pa, s, v))
        .collect();
    assert_eq!(
        writes,
        [
            (DEV_PA + 3, 1, 0x88),
            (DEV_PA + 6, 2, 0x7788),
            (DEV_PA + 8, 4, 0x5566_7788),
            (DEV_PA + 16, 8, 0x1122_3344_5566_7788)
        ]
    );
}

#[test]
fn accesses_nobody_answers_are_bus_errors() {
    for word in [lw(V0, 0, A0), sw(V0, 0, A0), ll(V0, 0, A0), sd(V0, 8, A0)] {
        let mut m = machine();
        m.set(A0, KSEG1 + HOLE_PA);
        m.program(&[word]);
        let t = m.run_to_fault();
        assert_eq!(
            (t.exception.code, t.pc),
            (ExcCode::Dbe, CODE),
            "{word:#010x}"
        );
    }
}

#[test]
fn device_accesses_see_the_cycle_of_the_accessing_instruction() {
    // Bus::read/write: `cycle` is "the simulated time of the access". Two
    // loads eleven instructions apart must be seen eleven cycles apart, as
    // CP0 Count (half the cycle rate) read next to them shows.
    let mut m = machine();
    let mut code = vec![mfc0(T0, c0::COUNT, 0), lw(V0, 0, A0)];
    code.extend([NOP; 10]);
    code.extend([lw(V1, 0, A0), sw(V1, 0, A0)]);
    m.program(&code);
    m.run_to_sentinel();
    let (r0, r1) = (m.bus.reads[0].2, m.bus.reads[1].2);
    let w = m.bus.writes[0].3;
    assert_eq!(
        (r1 - r0, w - r0),
        (11, 12),
        "reads at {r0}, {r1}, write at {w}"
    );
    assert_eq!(r0 / 2, m.reg(T0), "Count at the first load");
}

#[test]
fn interrupt_raised_by_a_device_access_is_taken_promptly() {
    let mut m = machine();
    m.use_wait_vectors();
    m.set_status(KERNEL_STATUS | status::IE | (1 << 12));
    m.bus.irq_on_write = 1 << 4;
    m.program(&[sw(ZERO, 0, A0), addiu(V0, ZERO, 1), b(-1), NOP]);
    assert_eq!(m.run_to_wait(), KSEG0 + 0x180);
    assert_eq!(m.exc_code(), ExcCode::Int);
    assert_ne!(m.cp0(c0::CAUSE) & (1 << 12), 0, "Cause.IP4");
    let epc = m.cp0(c0::EPC);
    assert!((CODE + 4..=CODE + 12).contains(&epc), "EPC {epc:#x}");
}

#[test]
fn stop_request_from_a_device_ends_the_run() {
    let mut m = machine();
    m.bus.stop_on_write = true;
    m.program(&[sw(ZERO, 0, A0), b(-1), NOP]);
    assert_eq!(m.run_for(100_000), RunExit::Stop);
    assert_eq!(m.bus.writes.len(), 1);
}
