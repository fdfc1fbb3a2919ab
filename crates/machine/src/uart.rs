//! An NS16550A UART: the Linux console (`compatible = "ns16550a"`,
//! `reg-shift = <0>`, byte registers, `clock-frequency = <1843200>`).
//!
//! The model is register-level and deterministic: it performs no I/O.
//! Transmitted bytes collect in a buffer the board drains with
//! [`Uart::take_output`]; received bytes are pushed by the board with
//! [`Uart::push_input`].
//!
//! # Registers (offsets 0..=7)
//!
//! | off | read (DLAB=0) | write (DLAB=0) | DLAB=1 |
//! |-----|---------------|----------------|--------|
//! | 0 | RBR | THR | DLL |
//! | 1 | IER | IER | DLM |
//! | 2 | IIR | FCR | (IIR / FCR, not affected by DLAB) |
//! | 3 | LCR | LCR | |
//! | 4 | MCR | MCR | |
//! | 5 | LSR | ignored | |
//! | 6 | MSR | ignored | |
//! | 7 | SCR | SCR | |
//!
//! Accesses are 1 byte wide. A 4-byte access at the same offset is accepted
//! too and acts on the same register (low byte written, the register value
//! zero-extended on reads), so a device tree with `reg-io-width = <4>` also
//! works. Any other size, and any offset above 7, is a [`DeviceError`].
//!
//! # Timing model and its consequences
//!
//! * **Transmission is instantaneous.** A byte written to THR is appended to
//!   the output at once, so LSR.THRE and LSR.TEMT are always set and the TX
//!   FIFO is always empty.
//! * **THRE interrupt** (the 16550 rules, which Linux's "THRE test" and
//!   "TXEN test" in `serial8250_do_startup()` check): the THRE interrupt
//!   becomes pending when THR becomes empty, or when IER.ETBEI goes from 0 to
//!   1 while THR is empty; it is cleared by reading IIR while THRE is the
//!   reported source, or by writing THR. Because the written byte leaves THR
//!   immediately, a THR write ends with THR empty again and the interrupt
//!   pending: a driver that keeps ETBEI set is interrupted after each burst,
//!   as on real hardware once the bytes have gone out.
//! * **RX FIFO.** With FIFOs enabled the receive FIFO holds up to
//!   [`RX_FIFO_CAPACITY`](crate::uart::RX_FIFO_CAPACITY) bytes — deliberately deeper than the 16 bytes of the
//!   chip, so that the board can hand over a whole burst of host input at
//!   once (Linux drains the FIFO until LSR.DR clears, whatever its depth).
//!   With FIFOs disabled the receiver is a single holding register (16450
//!   mode). Receiving into a full FIFO loses the new byte; receiving into a
//!   full holding register overwrites it; both set LSR.OE.
//! * **Character timeout.** With FIFOs enabled, the "received data
//!   available" interrupt (IIR = 0x04) is reported when the FIFO holds at
//!   least the trigger level (1, 4, 8 or 14 bytes, FCR bits 7:6). Below the
//!   trigger level a real 16550A raises the character-timeout interrupt
//!   (IIR = 0x0C) once no byte has arrived for four character times; input
//!   here arrives in bursts at discrete simulated instants, so the timeout is
//!   considered elapsed at once and 0x0C is reported as soon as data sits
//!   below the trigger level. Linux (trigger level 8 for `ns16550a`) then
//!   reads until LSR.DR clears.
//! * **Modem lines.** Outside loopback the modem inputs are those of an
//!   attached, ready terminal: DCD, DSR and CTS asserted, RI not.
//! * **Loopback** (MCR bit 4) is implemented: transmitted bytes are received
//!   instead of output, and the modem status inputs follow MCR (DTR→DSR,
//!   RTS→CTS, OUT1→RI, OUT2→DCD), which is what the 8250 driver's
//!   autoconfiguration checks. External input is disconnected while in
//!   loopback: [`Uart::rx_space`] is 0 and pushed bytes are discarded.
//! * **INTR** ([`MmioDevice::irq_level`]) is high whenever IIR reports an
//!   interrupt. MCR.OUT2 does not gate it: that gate is PC board logic, not
//!   part of the chip.
//! * Line errors other than overrun (parity, framing, break) never occur.

use std::collections::VecDeque;

use tracing::trace;

use crate::device::{DeviceError, MmioDevice};

/// Bytes the receive FIFO holds when FIFOs are enabled (see the module
/// documentation: deeper than the chip's 16 bytes on purpose).
pub const RX_FIFO_CAPACITY: usize = 4096;

/// Size of the register window in bytes (`reg-shift = <0>`).
pub const UART_WINDOW_SIZE: u64 = 8;

/// Register offsets.
mod reg {
    pub const RBR_THR_DLL: u64 = 0;
    pub const IER_DLM: u64 = 1;
    pub const IIR_FCR: u64 = 2;
    pub const LCR: u64 = 3;
    pub const MCR: u64 = 4;
    pub const LSR: u64 = 5;
    pub const MSR: u64 = 6;
    pub const SCR: u64 = 7;
}

/// Interrupt Enable Register bits.
mod ier {
    /// Received data available (and character timeout).
    pub const RDI: u8 = 0x01;
    /// Transmitter holding register empty (ETBEI).
    pub const THRI: u8 = 0x02;
    /// Receiver line status.
    pub const RLSI: u8 = 0x04;
    /// Modem status.
    pub const MSI: u8 = 0x08;
    /// Bits that exist on a 16550A.
    pub const MASK: u8 = 0x0f;
}

/// Interrupt Identification Register values.
mod iir {
    pub const NO_INT: u8 = 0x01;
    pub const MSI: u8 = 0x00;
    pub const THRI: u8 = 0x02;
    pub const RDI: u8 = 0x04;
    pub const RLSI: u8 = 0x06;
    pub const CTI: u8 = 0x0c;
    /// Bits 7:6 when the FIFOs are enabled.
    pub const FIFO_ENABLED: u8 = 0xc0;
}

/// FIFO Control Register bits.
mod fcr {
    pub const ENABLE: u8 = 0x01;
    pub const CLEAR_RX: u8 = 0x02;
    pub const TRIGGER_SHIFT: u8 = 6;
}

/// Line Control Register bits.
mod lcr {
    /// Divisor latch access.
    pub const DLAB: u8 = 0x80;
}

/// Modem Control Register bits.
mod mcr {
    pub const DTR: u8 = 0x01;
    pub const RTS: u8 = 0x02;
    pub const OUT1: u8 = 0x04;
    pub const OUT2: u8 = 0x08;
    pub const LOOP: u8 = 0x10;
    /// Bits that exist on a 16550A.
    pub const MASK: u8 = 0x1f;
}

/// Line Status Register bits.
mod lsr {
    pub const DR: u8 = 0x01;
    pub const OE: u8 = 0x02;
    pub const THRE: u8 = 0x20;
    pub const TEMT: u8 = 0x40;
}

/// Modem Status Register bits.
mod msr {
    pub const DCTS: u8 = 0x01;
    pub const DDSR: u8 = 0x02;
    pub const TERI: u8 = 0x04;
    pub const DDCD: u8 = 0x08;
    pub const CTS: u8 = 0x10;
    pub const DSR: u8 = 0x20;
    pub const RI: u8 = 0x40;
    pub const DCD: u8 = 0x80;
    /// Modem inputs of an attached, ready terminal.
    pub const EXTERNAL: u8 = DCD | DSR | CTS;
}

/// Divisor latch value after reset: 9600 baud with the 1.8432 MHz clock.
const RESET_DIVISOR: u16 = 12;

/// RX FIFO trigger levels selected by FCR bits 7:6.
const RX_TRIGGER_LEVELS: [usize; 4] = [1, 4, 8, 14];

/// An NS16550A UART (see the module documentation for the model).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Uart {
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    divisor: u16,
    fifo_enabled: bool,
    rx_trigger: usize,
    /// Latched LSR error bits (only OE can occur), cleared by reading LSR.
    lsr_errors: u8,
    /// The THRE interrupt is pending.
    thre_pending: bool,
    /// MSR delta bits (3:0), cleared by reading MSR.
    msr_deltas: u8,
    /// Last byte taken from the receiver, returned again when RBR is read
    /// while the receiver is empty.
    rbr: u8,
    rx: VecDeque<u8>,
    output: Vec<u8>,
}

impl Default for Uart {
    fn default() -> Self {
        Self::new()
    }
}

impl Uart {
    /// A UART in its reset state: FIFOs off, interrupts disabled, divisor
    /// latch 12 (9600 baud at 1.8432 MHz), no pending input or output.
    pub fn new() -> Self {
        Uart {
            ier: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            divisor: RESET_DIVISOR,
            fifo_enabled: false,
            rx_trigger: 1,
            lsr_errors: 0,
            thre_pending: false,
            msr_deltas: 0,
            rbr: 0,
            rx: VecDeque::new(),
            output: Vec::new(),
        }
    }

    /// Takes the bytes transmitted since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Delivers bytes from the outside world to the receiver.
    ///
    /// Bytes beyond [`Uart::rx_space`] overrun the receiver (LSR.OE is set):
    /// with FIFOs enabled they are lost, in 16450 mode each one overwrites
    /// the holding register. In loopback mode the receiver is disconnected
    /// from the outside and the bytes are discarded.
    pub fn push_input(&mut self, bytes: &[u8]) {
        if self.loopback() {
            trace!(target: "machine::uart", dropped = bytes.len(), "input while in loopback");
            return;
        }
        for &byte in bytes {
            self.receive(byte);
        }
    }

    /// Checks a UART restored from a checkpoint: a receive trigger level the
    /// FCR can select and no more received bytes than the receiver holds.
    pub fn check_restored(&self) -> Result<(), String> {
        if !RX_TRIGGER_LEVELS.contains(&self.rx_trigger) {
            return Err(format!(
                "UART receive trigger level {} is impossible",
                self.rx_trigger
            ));
        }
        if self.rx.len() > self.rx_capacity() {
            return Err("UART holds more received bytes than its FIFO".into());
        }
        Ok(())
    }

    /// How many bytes [`Uart::push_input`] accepts without overrun.
    pub fn rx_space(&self) -> usize {
        if self.loopback() {
            0
        } else {
            self.rx_capacity().saturating_sub(self.rx.len())
        }
    }

    /// The divisor latch (DLM:DLL); the baud rate is `clock / (16 * divisor)`.
    pub fn divisor(&self) -> u16 {
        self.divisor
    }

    fn loopback(&self) -> bool {
        self.mcr & mcr::LOOP != 0
    }

    fn dlab(&self) -> bool {
        self.lcr & lcr::DLAB != 0
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo_enabled {
            RX_FIFO_CAPACITY
        } else {
            1
        }
    }

    /// One byte arrives at the receiver.
    fn receive(&mut self, byte: u8) {
        if self.rx.len() < self.rx_capacity() {
            self.rx.push_back(byte);
            return;
        }
        self.lsr_errors |= lsr::OE;
        if !self.fifo_enabled {
            // 16450 mode: the new character replaces the unread one.
            if let Some(held) = self.rx.front_mut() {
                *held = byte;
            }
        }
    }

    /// One byte is written to THR and, the transmitter being instantaneous,
    /// leaves it at once.
    fn transmit(&mut self, byte: u8) {
        if self.loopback() {
            self.receive(byte);
        } else {
            self.output.push(byte);
        }
        // Writing THR clears the THRE interrupt; THR then empties again,
        // which raises it.
        self.thre_pending = true;
    }

    /// Modem status inputs (MSR bits 7:4) as the chip currently sees them.
    fn modem_inputs(&self) -> u8 {
        if !self.loopback() {
            return msr::EXTERNAL;
        }
        let mut inputs = 0;
        if self.mcr & mcr::DTR != 0 {
            inputs |= msr::DSR;
        }
        if self.mcr & mcr::RTS != 0 {
            inputs |= msr::CTS;
        }
        if self.mcr & mcr::OUT1 != 0 {
            inputs |= msr::RI;
        }
        if self.mcr & mcr::OUT2 != 0 {
            inputs |= msr::DCD;
        }
        inputs
    }

    fn write_mcr(&mut self, value: u8) {
        let before = self.modem_inputs();
        self.mcr = value & mcr::MASK;
        let after = self.modem_inputs();
        let changed = before ^ after;
        if changed & msr::CTS != 0 {
            self.msr_deltas |= msr::DCTS;
        }
        if changed & msr::DSR != 0 {
            self.msr_deltas |= msr::DDSR;
        }
        if changed & msr::DCD != 0 {
            self.msr_deltas |= msr::DDCD;
        }
        // Trailing edge of RI: asserted before, deasserted now.
        if before & msr::RI != 0 && after & msr::RI == 0 {
            self.msr_deltas |= msr::TERI;
        }
    }

    fn write_ier(&mut self, value: u8) {
        let old = self.ier;
        self.ier = value & ier::MASK;
        // Enabling ETBEI while THR is empty (it always is) raises THRE.
        if self.ier & ier::THRI != 0 && old & ier::THRI == 0 {
            self.thre_pending = true;
        }
    }

    fn write_fcr(&mut self, value: u8) {
        let enable = value & fcr::ENABLE != 0;
        if enable != self.fifo_enabled {
            // Changing the FIFO mode resets both FIFOs.
            self.rx.clear();
            self.fifo_enabled = enable;
        }
        // The other bits are only programmed while FCR bit 0 is written as 1.
        if enable {
            if value & fcr::CLEAR_RX != 0 {
                self.rx.clear();
            }
            // Clearing the TX FIFO has nothing to do: it is always empty.
            self.rx_trigger = RX_TRIGGER_LEVELS[usize::from(value >> fcr::TRIGGER_SHIFT)];
        }
    }

    fn read_rbr(&mut self) -> u8 {
        if let Some(byte) = self.rx.pop_front() {
            self.rbr = byte;
        }
        self.rbr
    }

    fn read_lsr(&mut self) -> u8 {
        let mut value = lsr::THRE | lsr::TEMT | self.lsr_errors;
        if !self.rx.is_empty() {
            value |= lsr::DR;
        }
        self.lsr_errors = 0;
        value
    }

    fn read_msr(&mut self) -> u8 {
        let value = self.modem_inputs() | self.msr_deltas;
        self.msr_deltas = 0;
        value
    }

    fn read_iir(&mut self) -> u8 {
        let id = self.interrupt_id();
        if id == iir::THRI {
            self.thre_pending = false;
        }
        let fifo_bits = if self.fifo_enabled {
            iir::FIFO_ENABLED
        } else {
            0
        };
        id | fifo_bits
    }

    /// The highest-priority pending, enabled interrupt (IIR bits 3:0).
    fn interrupt_id(&self) -> u8 {
        if self.ier & ier::RLSI != 0 && self.lsr_errors != 0 {
            return iir::RLSI;
        }
        if self.ier & ier::RDI != 0 && !self.rx.is_empty() {
            if !self.fifo_enabled || self.rx.len() >= self.rx_trigger {
                return iir::RDI;
            }
            return iir::CTI;
        }
        if self.ier & ier::THRI != 0 && self.thre_pending {
            return iir::THRI;
        }
        if self.ier & ier::MSI != 0 && self.msr_deltas != 0 {
            return iir::MSI;
        }
        iir::NO_INT
    }

    fn read_register(&mut self, offset: u64) -> u8 {
        match offset {
            reg::RBR_THR_DLL if self.dlab() => self.divisor.to_le_bytes()[0],
            reg::RBR_THR_DLL => self.read_rbr(),
            reg::IER_DLM if self.dlab() => self.divisor.to_le_bytes()[1],
            reg::IER_DLM => self.ier,
            reg::IIR_FCR => self.read_iir(),
            reg::LCR => self.lcr,
            reg::MCR => self.mcr,
            reg::LSR => self.read_lsr(),
            reg::MSR => self.read_msr(),
            _ => self.scr,
        }
    }

    fn write_register(&mut self, offset: u64, value: u8) {
        match offset {
            reg::RBR_THR_DLL if self.dlab() => {
                self.divisor = (self.divisor & 0xff00) | u16::from(value);
            }
            reg::RBR_THR_DLL => self.transmit(value),
            reg::IER_DLM if self.dlab() => {
                self.divisor = (self.divisor & 0x00ff) | (u16::from(value) << 8);
            }
            reg::IER_DLM => self.write_ier(value),
            reg::IIR_FCR => self.write_fcr(value),
            reg::LCR => self.lcr = value,
            reg::MCR => self.write_mcr(value),
            reg::LSR | reg::MSR => {
                trace!(target: "machine::uart", offset, value, "write to read-only register ignored");
            }
            _ => self.scr = value,
        }
    }
}

/// Checks an access: offsets 0..=7, 1- or 4-byte wide.
fn check_access(offset: u64, size: u8) -> Result<(), DeviceError> {
    if offset > reg::SCR || !matches!(size, 1 | 4) {
        trace!(target: "machine::uart", offset, size, "rejected access");
        return Err(DeviceError);
    }
    Ok(())
}

impl MmioDevice for Uart {
    fn read(&mut self, offset: u64, size: u8, _now_ns: u64) -> Result<u64, DeviceError> {
        check_access(offset, size)?;
        Ok(u64::from(self.read_register(offset)))
    }

    fn write(
        &mut self,
        offset: u64,
        size: u8,
        value: u64,
        _now_ns: u64,
    ) -> Result<(), DeviceError> {
        check_access(offset, size)?;
        self.write_register(offset, value.to_le_bytes()[0]);
        Ok(())
    }

    fn irq_level(&self) -> bool {
        self.interrupt_id() != iir::NO_INT
    }

    fn name(&self) -> &'static str {
        "uart"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RBR: u64 = 0;
    const THR: u64 = 0;
    const DLL: u64 = 0;
    const IER: u64 = 1;
    const DLM: u64 = 1;
    const IIR: u64 = 2;
    const FCR: u64 = 2;
    const LCR: u64 = 3;
    const MCR: u64 = 4;
    const LSR: u64 = 5;
    const MSR: u64 = 6;
    const SCR: u64 = 7;

    /// The FCR value Linux programs for `PORT_NS16550A`: FIFO on, RX trigger 8.
    const LINUX_FCR: u8 = 0x81;

    fn rd(uart: &mut Uart, offset: u64) -> u8 {
        let value = uart
            .read(offset, 1, 0)
            .expect("byte read of a UART register");
        u8::try_from(value).expect("register values fit in a byte")
    }

    fn wr(uart: &mut Uart, offset: u64, value: u8) {
        uart.write(offset, 1, u64::from(value), 0)
            .expect("byte write of a UART register");
    }

    /// Linux's `serial8250_clear_fifos()`.
    fn clear_fifos(uart: &mut Uart) {
        wr(uart, FCR, 0x01);
        wr(uart, FCR, 0x07);
        wr(uart, FCR, 0x00);
    }

    /// A UART set up like Linux after `serial8250_do_set_termios()` at
    /// 115200 8N1 with FIFOs on.
    fn linux_configured() -> Uart {
        let mut uart = Uart::new();
        wr(&mut uart, LCR, 0x83);
        wr(&mut uart, DLL, 1);
        wr(&mut uart, DLM, 0);
        wr(&mut uart, LCR, 0x03);
        wr(&mut uart, FCR, LINUX_FCR);
        wr(&mut uart, MCR, mcr::DTR | mcr::RTS | mcr::OUT2);
        uart
    }

    #[test]
    fn reset_state_matches_a_16550a() {
        let mut uart = Uart::new();
        assert_eq!(rd(&mut uart, IER), 0);
        assert_eq!(rd(&mut uart, IIR), 0x01);
        assert_eq!(rd(&mut uart, LCR), 0);
        assert_eq!(rd(&mut uart, MCR), 0);
        assert_eq!(rd(&mut uart, LSR), 0x60);
        assert_eq!(rd(&mut uart, MSR), 0xb0);
        assert_eq!(rd(&mut uart, SCR), 0);
        assert_eq!(uart.divisor(), 12);
        assert!(!uart.irq_level());
        assert_eq!(uart.name(), "uart");
    }

    #[test]
    fn linux_autoconfig_probe_identifies_a_16550a() {
        let mut uart = Uart::new();
        // IER existence test: only the low four bits are implemented.
        wr(&mut uart, IER, 0);
        assert_eq!(rd(&mut uart, IER) & 0x0f, 0);
        wr(&mut uart, IER, 0x0f);
        assert_eq!(rd(&mut uart, IER) & 0x0f, 0x0f);
        wr(&mut uart, IER, 0xff);
        assert_eq!(
            rd(&mut uart, IER),
            0x0f,
            "IER bits 7:4 (e.g. XScale UUE) read 0"
        );
        wr(&mut uart, IER, 0);
        // Loopback test: MCR = LOOP | OUT2 | RTS must show DCD | CTS.
        wr(&mut uart, MCR, mcr::LOOP | 0x0a);
        assert_eq!(rd(&mut uart, MSR) & 0xf0, 0x90);
        wr(&mut uart, MCR, 0);
        // FIFO test: IIR bits 7:6 = 11 once FIFOs are enabled.
        wr(&mut uart, LCR, 0xbf);
        wr(&mut uart, FCR, 0);
        wr(&mut uart, LCR, 0);
        wr(&mut uart, FCR, 0x01);
        assert_eq!(rd(&mut uart, IIR) >> 6, 3);
        // 16750 test: FCR bit 5 must not show up in IIR bit 5.
        wr(&mut uart, FCR, 0x21);
        assert_eq!(rd(&mut uart, IIR) >> 5, 6);
    }

    #[test]
    fn scratch_register_holds_a_value() {
        let mut uart = Uart::new();
        wr(&mut uart, SCR, 0xa5);
        assert_eq!(rd(&mut uart, SCR), 0xa5);
        wr(&mut uart, SCR, 0x5a);
        assert_eq!(rd(&mut uart, SCR), 0x5a);
    }

    #[test]
    fn divisor_latch_is_reached_through_dlab() {
        let mut uart = Uart::new();
        wr(&mut uart, IER, 0x05);
        // NatSemi-style access (LCR = 0xe0) also sets DLAB.
        wr(&mut uart, LCR, 0xe0);
        wr(&mut uart, DLL, 0x34);
        wr(&mut uart, DLM, 0x12);
        assert_eq!(rd(&mut uart, DLL), 0x34);
        assert_eq!(rd(&mut uart, DLM), 0x12);
        wr(&mut uart, LCR, 0x03);
        assert_eq!(uart.divisor(), 0x1234);
        assert_eq!(rd(&mut uart, IER), 0x05, "IER untouched by divisor writes");
        assert!(
            uart.take_output().is_empty(),
            "DLL writes are not transmitted"
        );
    }

    #[test]
    fn fifo_enable_and_disable_show_in_iir() {
        let mut uart = Uart::new();
        wr(&mut uart, FCR, LINUX_FCR);
        assert_eq!(rd(&mut uart, IIR), 0xc1);
        wr(&mut uart, FCR, 0);
        assert_eq!(rd(&mut uart, IIR), 0x01);
    }

    #[test]
    fn transmitted_bytes_reach_the_output_buffer() {
        let mut uart = linux_configured();
        for &byte in b"Linux" {
            assert_eq!(
                rd(&mut uart, LSR) & 0x60,
                0x60,
                "THRE and TEMT before each byte"
            );
            wr(&mut uart, THR, byte);
        }
        assert_eq!(rd(&mut uart, LSR) & 0x60, 0x60);
        assert_eq!(uart.take_output(), b"Linux");
        assert!(uart.take_output().is_empty(), "take_output drains");
    }

    #[test]
    fn four_byte_accesses_act_on_the_same_register() {
        let mut uart = Uart::new();
        uart.write(SCR, 4, 0xdead_be42, 0).expect("4-byte write");
        assert_eq!(uart.read(SCR, 4, 0), Ok(0x42));
        uart.write(THR, 4, 0x1234_5641, 0)
            .expect("4-byte THR write");
        assert_eq!(uart.take_output(), b"A");
    }

    #[test]
    fn bad_offsets_and_sizes_are_device_errors() {
        let mut uart = Uart::new();
        for size in [0, 2, 3, 8, 255] {
            assert_eq!(uart.read(0, size, 0), Err(DeviceError), "read size {size}");
            assert_eq!(
                uart.write(0, size, 0x41, 0),
                Err(DeviceError),
                "write size {size}"
            );
        }
        for offset in [8, 0x100, u64::MAX] {
            assert_eq!(
                uart.read(offset, 1, 0),
                Err(DeviceError),
                "read offset {offset:#x}"
            );
            assert_eq!(
                uart.write(offset, 1, 0x41, 0),
                Err(DeviceError),
                "write {offset:#x}"
            );
        }
        assert!(
            uart.take_output().is_empty(),
            "rejected writes have no effect"
        );
    }

    #[test]
    fn linux_thre_test_sees_thre_reasserted() {
        // serial8250_do_startup(): "Test for UARTs that do not reassert THRE".
        let mut uart = linux_configured();
        wr(&mut uart, IER, ier::THRI);
        let iir1 = rd(&mut uart, IIR);
        wr(&mut uart, IER, 0);
        wr(&mut uart, IER, ier::THRI);
        let iir2 = rd(&mut uart, IIR);
        wr(&mut uart, IER, 0);
        assert_eq!(iir1 & 0x0f, iir::THRI);
        assert_eq!(iir2 & 0x0f, iir::THRI, "no UART_BUG_THRE");
    }

    #[test]
    fn linux_txen_test_sees_an_interrupt() {
        // serial8250_do_startup(): "see if we receive an interrupt when we
        // enable the TX irq" — TEMT set with no interrupt means UART_BUG_TXEN.
        let mut uart = linux_configured();
        wr(&mut uart, IER, ier::THRI);
        let lsr_value = rd(&mut uart, LSR);
        let iir_value = rd(&mut uart, IIR);
        wr(&mut uart, IER, 0);
        assert_ne!(lsr_value & lsr::TEMT, 0);
        assert_eq!(iir_value & iir::NO_INT, 0, "no UART_BUG_TXEN");
    }

    #[test]
    fn thre_interrupt_is_cleared_by_reading_iir_and_rearmed_by_thr_write() {
        let mut uart = linux_configured();
        wr(&mut uart, IER, ier::THRI);
        assert!(
            uart.irq_level(),
            "enabling ETBEI with THR empty raises INTR"
        );
        assert_eq!(rd(&mut uart, IIR), 0xc2);
        assert!(
            !uart.irq_level(),
            "reading IIR with THRE reported clears it"
        );
        assert_eq!(rd(&mut uart, IIR), 0xc1);
        wr(&mut uart, THR, b'x');
        assert!(uart.irq_level(), "THR empties again after the byte leaves");
        assert_eq!(rd(&mut uart, IIR), 0xc2);
        assert!(!uart.irq_level());
    }

    #[test]
    fn rewriting_ier_without_a_rising_etbei_edge_does_not_rearm_thre() {
        let mut uart = linux_configured();
        wr(&mut uart, IER, ier::THRI);
        rd(&mut uart, IIR);
        wr(&mut uart, IER, ier::THRI | ier::RDI);
        assert!(!uart.irq_level());
        assert_eq!(rd(&mut uart, IIR), 0xc1);
    }

    #[test]
    fn thre_pending_is_masked_not_lost_when_etbei_is_off() {
        let mut uart = linux_configured();
        wr(&mut uart, THR, b'a');
        assert!(!uart.irq_level(), "ETBEI off: no interrupt");
        assert_eq!(rd(&mut uart, IIR), 0xc1);
        wr(&mut uart, IER, ier::THRI);
        assert!(uart.irq_level());
    }

    #[test]
    fn linux_console_write_restores_tx_interrupt() {
        // serial8250_console_write(): save IER, clear it, poll-write, restore.
        let mut uart = linux_configured();
        wr(&mut uart, IER, ier::RDI | ier::RLSI | ier::THRI);
        rd(&mut uart, IIR);
        let saved = rd(&mut uart, IER);
        wr(&mut uart, IER, 0);
        for &byte in b"ok\r\n" {
            assert_eq!(
                rd(&mut uart, LSR) & 0x60,
                0x60,
                "wait_for_xmitr() never waits"
            );
            wr(&mut uart, THR, byte);
        }
        wr(&mut uart, IER, saved);
        assert!(uart.irq_level(), "restoring ETBEI re-raises THRE");
        assert_eq!(uart.take_output(), b"ok\r\n");
    }

    #[test]
    fn receive_below_trigger_level_reports_character_timeout() {
        let mut uart = linux_configured();
        wr(&mut uart, IER, ier::RDI | ier::RLSI);
        uart.push_input(b"a");
        assert!(uart.irq_level());
        assert_eq!(rd(&mut uart, IIR), 0xcc);
        assert_eq!(rd(&mut uart, LSR) & lsr::DR, lsr::DR);
        assert_eq!(rd(&mut uart, RBR), b'a');
        assert_eq!(rd(&mut uart, LSR) & lsr::DR, 0);
        assert!(!uart.irq_level());
        assert_eq!(rd(&mut uart, IIR), 0xc1);
    }

    #[test]
    fn receive_at_trigger_level_reports_data_available() {
        let mut uart = linux_configured();
        wr(&mut uart, IER, ier::RDI);
        uart.push_input(b"12345678");
        assert_eq!(rd(&mut uart, IIR), 0xc4);
        // Linux's serial8250_rx_chars(): read while LSR.DR is set.
        let mut got = Vec::new();
        while rd(&mut uart, LSR) & lsr::DR != 0 {
            got.push(rd(&mut uart, RBR));
        }
        assert_eq!(got, b"12345678");
        assert!(!uart.irq_level());
    }

    #[test]
    fn trigger_levels_follow_fcr_bits() {
        for (fcr_value, level) in [(0x41, 4), (0x81, 8), (0xc1, 14)] {
            let mut uart = Uart::new();
            wr(&mut uart, FCR, fcr_value);
            wr(&mut uart, IER, ier::RDI);
            uart.push_input(&vec![b'x'; level - 1]);
            assert_eq!(rd(&mut uart, IIR), 0xcc, "FCR {fcr_value:#x} below trigger");
            uart.push_input(b"x");
            assert_eq!(
                rd(&mut uart, IIR),
                0xc4,
                "FCR {fcr_value:#x} at trigger {level}"
            );
        }
    }

    #[test]
    fn trigger_level_one_reports_data_available_for_one_byte() {
        let mut uart = Uart::new();
        wr(&mut uart, FCR, 0x01);
        wr(&mut uart, IER, ier::RDI);
        uart.push_input(b"x");
        assert_eq!(rd(&mut uart, IIR), 0xc4);
    }

    #[test]
    fn rx_interrupt_without_fifo_is_data_available() {
        let mut uart = Uart::new();
        wr(&mut uart, IER, ier::RDI);
        uart.push_input(b"z");
        assert_eq!(rd(&mut uart, IIR), 0x04);
        assert_eq!(rd(&mut uart, RBR), b'z');
        assert_eq!(rd(&mut uart, IIR), 0x01);
    }

    #[test]
    fn rx_space_reflects_fifo_mode() {
        let mut uart = Uart::new();
        assert_eq!(uart.rx_space(), 1, "16450 mode: one holding register");
        wr(&mut uart, FCR, LINUX_FCR);
        assert_eq!(uart.rx_space(), RX_FIFO_CAPACITY);
        uart.push_input(b"abc");
        assert_eq!(uart.rx_space(), RX_FIFO_CAPACITY - 3);
    }

    #[test]
    fn fifo_overrun_drops_the_excess_and_sets_oe_until_lsr_is_read() {
        let mut uart = linux_configured();
        let mut input = vec![b'a'; RX_FIFO_CAPACITY];
        input.push(b'b');
        uart.push_input(&input);
        assert_eq!(uart.rx_space(), 0);
        let lsr_value = rd(&mut uart, LSR);
        assert_eq!(lsr_value & (lsr::OE | lsr::DR), lsr::OE | lsr::DR);
        assert_eq!(rd(&mut uart, LSR) & lsr::OE, 0, "reading LSR clears OE");
        let mut count = 0;
        let mut last = 0;
        while rd(&mut uart, LSR) & lsr::DR != 0 {
            last = rd(&mut uart, RBR);
            count += 1;
        }
        assert_eq!(count, RX_FIFO_CAPACITY);
        assert_eq!(last, b'a', "the overrunning byte was lost");
    }

    #[test]
    fn holding_register_overrun_keeps_the_newest_byte() {
        let mut uart = Uart::new();
        uart.push_input(b"xy");
        assert_eq!(rd(&mut uart, LSR) & (lsr::OE | lsr::DR), lsr::OE | lsr::DR);
        assert_eq!(rd(&mut uart, RBR), b'y');
        assert_eq!(rd(&mut uart, LSR) & lsr::DR, 0);
    }

    #[test]
    fn fifo_clear_and_mode_change_discard_received_data() {
        let mut uart = linux_configured();
        uart.push_input(b"abc");
        wr(&mut uart, FCR, LINUX_FCR | fcr::CLEAR_RX);
        assert_eq!(rd(&mut uart, LSR) & lsr::DR, 0);
        uart.push_input(b"def");
        clear_fifos(&mut uart);
        assert_eq!(rd(&mut uart, LSR) & lsr::DR, 0);
        assert_eq!(rd(&mut uart, IIR), 0x01, "FIFOs now disabled");
    }

    #[test]
    fn fcr_bits_are_ignored_when_written_with_fifo_disable() {
        let mut uart = Uart::new();
        uart.push_input(b"q");
        wr(&mut uart, FCR, fcr::CLEAR_RX);
        assert_eq!(rd(&mut uart, RBR), b'q');
    }

    #[test]
    fn rbr_read_when_empty_repeats_the_last_byte() {
        let mut uart = linux_configured();
        uart.push_input(b"k");
        assert_eq!(rd(&mut uart, RBR), b'k');
        assert_eq!(rd(&mut uart, RBR), b'k');
        assert_eq!(rd(&mut uart, LSR) & lsr::DR, 0);
    }

    #[test]
    fn iir_reports_sources_in_priority_order() {
        let mut uart = linux_configured();
        wr(&mut uart, IER, ier::RDI | ier::THRI | ier::RLSI | ier::MSI);
        // THRE (ETBEI rising edge), modem status change (enter loopback then
        // leave it), received data with an overrun.
        wr(&mut uart, MCR, mcr::LOOP);
        wr(&mut uart, MCR, mcr::DTR | mcr::RTS | mcr::OUT2);
        let mut input = vec![b'r'; RX_FIFO_CAPACITY];
        input.push(b'!');
        uart.push_input(&input);

        assert_eq!(rd(&mut uart, IIR), 0xc6, "line status first");
        rd(&mut uart, LSR);
        assert_eq!(rd(&mut uart, IIR), 0xc4, "then received data");
        while rd(&mut uart, LSR) & lsr::DR != 0 {
            rd(&mut uart, RBR);
        }
        assert_eq!(rd(&mut uart, IIR), 0xc2, "then THRE (cleared by this read)");
        assert_eq!(rd(&mut uart, IIR), 0xc0, "then modem status");
        assert!(uart.irq_level());
        let msr_value = rd(&mut uart, MSR);
        assert_ne!(msr_value & 0x0f, 0, "delta bits reported");
        assert_eq!(rd(&mut uart, MSR) & 0x0f, 0, "and cleared by the read");
        assert_eq!(rd(&mut uart, IIR), 0xc1);
        assert!(!uart.irq_level());
    }

    #[test]
    fn disabled_sources_do_not_interrupt() {
        let mut uart = linux_configured();
        uart.push_input(b"data");
        wr(&mut uart, MCR, mcr::LOOP);
        assert!(!uart.irq_level());
        assert_eq!(rd(&mut uart, IIR), 0xc1);
    }

    #[test]
    fn loopback_routes_transmit_to_receive() {
        let mut uart = linux_configured();
        wr(&mut uart, MCR, mcr::LOOP);
        assert_eq!(uart.rx_space(), 0, "external input disconnected");
        uart.push_input(b"ignored");
        wr(&mut uart, THR, b'L');
        assert!(uart.take_output().is_empty());
        assert_eq!(rd(&mut uart, LSR) & lsr::DR, lsr::DR);
        assert_eq!(rd(&mut uart, RBR), b'L');
        assert_eq!(rd(&mut uart, LSR) & lsr::DR, 0);
        wr(&mut uart, MCR, 0);
        assert!(uart.rx_space() > 0);
    }

    #[test]
    fn loopback_maps_modem_outputs_to_inputs() {
        let mut uart = Uart::new();
        wr(&mut uart, MCR, mcr::LOOP | mcr::DTR);
        assert_eq!(rd(&mut uart, MSR) & 0xf0, msr::DSR);
        wr(&mut uart, MCR, mcr::LOOP | mcr::RTS);
        assert_eq!(rd(&mut uart, MSR) & 0xf0, msr::CTS);
        wr(&mut uart, MCR, mcr::LOOP | mcr::OUT1);
        assert_eq!(rd(&mut uart, MSR) & 0xf0, msr::RI);
        wr(&mut uart, MCR, mcr::LOOP);
        assert_eq!(rd(&mut uart, MSR), msr::TERI, "RI trailing edge");
        wr(&mut uart, MCR, mcr::LOOP | mcr::OUT2);
        assert_eq!(rd(&mut uart, MSR), msr::DCD | msr::DDCD);
    }

    #[test]
    fn linux_startup_sequence_leaves_a_quiet_port() {
        // serial8250_do_startup() then serial8250_do_set_termios().
        let mut uart = Uart::new();
        clear_fifos(&mut uart);
        for offset in [LSR, RBR, IIR, MSR] {
            rd(&mut uart, offset);
        }
        assert_ne!(rd(&mut uart, LSR), 0xff, "LSR safety check");
        wr(&mut uart, LCR, 0x03);
        wr(&mut uart, MCR, mcr::DTR | mcr::RTS | mcr::OUT2);
        wr(&mut uart, IER, ier::THRI);
        rd(&mut uart, LSR);
        rd(&mut uart, IIR);
        wr(&mut uart, IER, 0);
        for offset in [LSR, RBR, IIR, MSR] {
            rd(&mut uart, offset);
        }
        wr(&mut uart, LCR, 0x83);
        wr(&mut uart, DLL, 1);
        wr(&mut uart, DLM, 0);
        wr(&mut uart, LCR, 0x03);
        wr(&mut uart, FCR, 0x01);
        wr(&mut uart, FCR, LINUX_FCR);
        wr(&mut uart, IER, ier::RLSI | ier::RDI);
        assert!(!uart.irq_level());
        assert_eq!(rd(&mut uart, IIR), 0xc1);
        assert_eq!(uart.divisor(), 1);
    }

    #[test]
    fn writes_to_lsr_and_msr_are_ignored() {
        let mut uart = Uart::new();
        wr(&mut uart, LSR, 0xff);
        wr(&mut uart, MSR, 0xff);
        assert_eq!(rd(&mut uart, LSR), 0x60);
        assert_eq!(rd(&mut uart, MSR), 0xb0);
    }

    mod prop {
        use proptest::prelude::*;

        use super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Read(u64, u8),
            Write(u64, u8, u64),
            Input(Vec<u8>),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (0u64..12, any::<u8>()).prop_map(|(o, s)| Op::Read(o, s % 9)),
                (0u64..12, any::<u8>(), any::<u64>()).prop_map(|(o, s, v)| Op::Write(o, s % 9, v)),
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(Op::Input),
            ]
        }

        proptest! {
            #[test]
            fn random_guest_and_host_traffic_never_panics(ops in proptest::collection::vec(op(), 0..200)) {
                let mut uart = Uart::new();
                for op in ops {
                    match op {
                        Op::Read(offset, size) => {
                            let result = uart.read(offset, size, 0);
                            prop_assert_eq!(result.is_ok(), offset < 8 && (size == 1 || size == 4));
                            if let Ok(value) = result {
                                prop_assert!(value <= 0xff);
                            }
                        }
                        Op::Write(offset, size, value) => {
                            let _ = uart.write(offset, size, value, 0);
                        }
                        Op::Input(bytes) => uart.push_input(&bytes),
                    }
                    prop_assert!(uart.rx_space() <= RX_FIFO_CAPACITY);
                    let _ = uart.irq_level();
                }
            }
        }
    }
}
