//! The Goldfish real-time clock (`compatible = "google,goldfish-rtc"`, built
//! into the Debian kernel as `CONFIG_RTC_DRV_GOLDFISH=y`), so that the guest
//! has a wall clock.
//!
//! # Registers (32-bit, little-endian)
//!
//! | offset | name | read | write |
//! |--------|------|------|-------|
//! | 0x00 | TIME_LOW | low 32 bits of the time; latches the high half into TIME_HIGH | sets the low 32 bits of the time |
//! | 0x04 | TIME_HIGH | high half latched by the last TIME_LOW read | sets the high 32 bits of the time |
//! | 0x08 | ALARM_LOW | low 32 bits of the alarm | sets them and arms the alarm |
//! | 0x0c | ALARM_HIGH | high 32 bits of the alarm | sets them (write before ALARM_LOW) |
//! | 0x10 | IRQ_ENABLED | bit 0 | bit 0 enables the interrupt output |
//! | 0x14 | CLEAR_ALARM | 0 | disarms the alarm |
//! | 0x18 | ALARM_STATUS | 1 while the alarm is armed and has not fired | ignored |
//! | 0x1c | CLEAR_INTERRUPT | 0 | clears the pending alarm interrupt |
//!
//! Times are nanoseconds since the Unix epoch. Accesses must be 4 bytes wide
//! and aligned inside the [`RTC_WINDOW_SIZE`](crate::rtc::RTC_WINDOW_SIZE) window; other aligned words
//! read as zero and ignore writes; anything else is a [`DeviceError`].
//!
//! # Time and determinism
//!
//! The clock reads `epoch offset + now_ns`, where `now_ns` is the simulated
//! time of the access and the offset is chosen by the board when it creates
//! the device ([`GoldfishRtc::new`]) — a fixed value, never the host clock,
//! unless the user asks for it. Guest writes to TIME change the offset.
//! Arithmetic wraps modulo 2^64, as in the hardware's 64-bit counter.
//!
//! An armed alarm fires when the clock reaches it: the board learns when
//! from [`GoldfishRtc::next_event_ns`] and calls [`GoldfishRtc::advance_to`]
//! at that simulated time (every register access also catches up first).
//! Firing disarms the alarm and makes the interrupt pending; the interrupt
//! output ([`MmioDevice::irq_level`]) is pending AND enabled. An alarm that
//! is already due when armed fires at once. When the guest sets the time
//! while an alarm is armed, the firing time is recomputed from the new clock.

use tracing::trace;

use crate::device::{DeviceError, MmioDevice};

/// Size of the register window in bytes.
pub const RTC_WINDOW_SIZE: u64 = 0x1000;

/// Register offsets.
mod reg {
    pub const TIME_LOW: u64 = 0x00;
    pub const TIME_HIGH: u64 = 0x04;
    pub const ALARM_LOW: u64 = 0x08;
    pub const ALARM_HIGH: u64 = 0x0c;
    pub const IRQ_ENABLED: u64 = 0x10;
    pub const CLEAR_ALARM: u64 = 0x14;
    pub const ALARM_STATUS: u64 = 0x18;
    pub const CLEAR_INTERRUPT: u64 = 0x1c;
}

const LOW_MASK: u64 = 0xffff_ffff;
const HIGH_MASK: u64 = !LOW_MASK;

/// A Goldfish RTC (see the module documentation for the model).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct GoldfishRtc {
    /// Clock value minus simulated time, modulo 2^64.
    offset: u64,
    /// High half of the clock latched by the last TIME_LOW read.
    time_high: u32,
    /// Alarm time in clock nanoseconds.
    alarm: u64,
    /// Simulated time at which the armed alarm fires; `None` when disarmed.
    fire_at_ns: Option<u64>,
    irq_pending: bool,
    irq_enabled: bool,
}

impl GoldfishRtc {
    /// An RTC that reads `epoch_ns` (nanoseconds since 1970-01-01 UTC) at
    /// simulated time 0, with no alarm and the interrupt disabled.
    pub fn new(epoch_ns: u64) -> Self {
        GoldfishRtc {
            offset: epoch_ns,
            time_high: 0,
            alarm: 0,
            fire_at_ns: None,
            irq_pending: false,
            irq_enabled: false,
        }
    }

    /// The clock (nanoseconds since the Unix epoch) at simulated time `now_ns`.
    pub fn time_ns(&self, now_ns: u64) -> u64 {
        self.offset.wrapping_add(now_ns)
    }

    /// Sets the clock to `time_ns` at simulated time `now_ns`.
    pub fn set_time_ns(&mut self, now_ns: u64, time_ns: u64) {
        self.advance_to(now_ns);
        self.offset = time_ns.wrapping_sub(now_ns);
        if self.fire_at_ns.is_some() {
            self.arm(now_ns);
        }
    }

    /// Simulated time at which the armed alarm fires, if one is armed. The
    /// board should call [`GoldfishRtc::advance_to`] then.
    pub fn next_event_ns(&self) -> Option<u64> {
        self.fire_at_ns
    }

    /// Brings the device up to simulated time `now_ns`: fires the alarm if
    /// it is due.
    pub fn advance_to(&mut self, now_ns: u64) {
        if self.fire_at_ns.is_some_and(|at| now_ns >= at) {
            self.fire();
        }
    }

    fn fire(&mut self) {
        trace!(target: "machine::rtc", alarm = self.alarm, "alarm fired");
        self.fire_at_ns = None;
        self.irq_pending = true;
    }

    /// Arms the alarm at simulated time `now_ns`.
    fn arm(&mut self, now_ns: u64) {
        let now_time = self.time_ns(now_ns);
        if self.alarm <= now_time {
            self.fire();
        } else {
            self.fire_at_ns = Some(now_ns.saturating_add(self.alarm - now_time));
        }
    }

    fn read_register(&mut self, offset: u64, now_ns: u64) -> u32 {
        match offset {
            reg::TIME_LOW => {
                let time = self.time_ns(now_ns);
                self.time_high = (time >> 32) as u32;
                time as u32
            }
            reg::TIME_HIGH => self.time_high,
            reg::ALARM_LOW => self.alarm as u32,
            reg::ALARM_HIGH => (self.alarm >> 32) as u32,
            reg::IRQ_ENABLED => u32::from(self.irq_enabled),
            reg::ALARM_STATUS => u32::from(self.fire_at_ns.is_some()),
            _ => 0,
        }
    }

    fn write_register(&mut self, offset: u64, value: u32, now_ns: u64) {
        let value = u64::from(value);
        match offset {
            reg::TIME_LOW => {
                let time = (self.time_ns(now_ns) & HIGH_MASK) | value;
                self.set_time_ns(now_ns, time);
            }
            reg::TIME_HIGH => {
                let time = (self.time_ns(now_ns) & LOW_MASK) | (value << 32);
                self.set_time_ns(now_ns, time);
            }
            reg::ALARM_LOW => {
                self.alarm = (self.alarm & HIGH_MASK) | value;
                self.arm(now_ns);
            }
            reg::ALARM_HIGH => self.alarm = (self.alarm & LOW_MASK) | (value << 32),
            reg::IRQ_ENABLED => self.irq_enabled = value & 1 != 0,
            reg::CLEAR_ALARM => self.fire_at_ns = None,
            reg::CLEAR_INTERRUPT => self.irq_pending = false,
            _ => trace!(target: "machine::rtc", offset, value, "write ignored"),
        }
    }
}

/// Checks an access: a 4-byte aligned word inside the window.
fn check_access(offset: u64, size: u8) -> Result<(), DeviceError> {
    if size != 4 || offset & 3 != 0 || offset >= RTC_WINDOW_SIZE {
        trace!(target: "machine::rtc", offset, size, "rejected access");
        return Err(DeviceError);
    }
    Ok(())
}

impl MmioDevice for GoldfishRtc {
    fn read(&mut self, offset: u64, size: u8, now_ns: u64) -> Result<u64, DeviceError> {
        check_access(offset, size)?;
        self.advance_to(now_ns);
        Ok(u64::from(self.read_register(offset, now_ns)))
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, now_ns: u64) -> Result<(), DeviceError> {
        check_access(offset, size)?;
        self.advance_to(now_ns);
        // The access is 4 bytes wide: only the low 32 bits are written.
        self.write_register(offset, value as u32, now_ns);
        Ok(())
    }

    fn irq_level(&self) -> bool {
        self.irq_pending && self.irq_enabled
    }

    fn name(&self) -> &'static str {
        "rtc"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;
    /// 2024-01-01T00:00:00Z, a fixed, reproducible epoch.
    const EPOCH: u64 = 1_704_067_200 * SEC;

    fn rd(rtc: &mut GoldfishRtc, offset: u64, now_ns: u64) -> u64 {
        rtc.read(offset, 4, now_ns).expect("4-byte RTC read")
    }

    fn wr(rtc: &mut GoldfishRtc, offset: u64, value: u64, now_ns: u64) {
        rtc.write(offset, 4, value, now_ns)
            .expect("4-byte RTC write");
    }

    /// Linux's goldfish_rtc_read_time(): TIME_LOW then TIME_HIGH.
    fn linux_read_time(rtc: &mut GoldfishRtc, low_at: u64, high_at: u64) -> u64 {
        let low = rd(rtc, reg::TIME_LOW, low_at);
        let high = rd(rtc, reg::TIME_HIGH, high_at);
        (high << 32) | low
    }

    /// Linux's goldfish_rtc_set_alarm() with `enabled = 1`.
    fn linux_set_alarm(rtc: &mut GoldfishRtc, alarm_ns: u64, now_ns: u64) {
        wr(rtc, reg::ALARM_HIGH, alarm_ns >> 32, now_ns);
        wr(rtc, reg::ALARM_LOW, alarm_ns & LOW_MASK, now_ns);
        wr(rtc, reg::IRQ_ENABLED, 1, now_ns);
    }

    #[test]
    fn time_is_epoch_plus_simulated_time() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        assert_eq!(linux_read_time(&mut rtc, 0, 0), EPOCH);
        assert_eq!(linux_read_time(&mut rtc, 5 * SEC, 5 * SEC), EPOCH + 5 * SEC);
        assert_eq!(rtc.time_ns(7), EPOCH + 7);
        assert_eq!(rtc.name(), "rtc");
    }

    #[test]
    fn time_high_is_latched_by_the_time_low_read() {
        // Start just below a 2^32 ns boundary so the high half changes
        // between the two reads.
        let mut rtc = GoldfishRtc::new((5 << 32) - 10);
        let low = rd(&mut rtc, reg::TIME_LOW, 0);
        let high = rd(&mut rtc, reg::TIME_HIGH, 100);
        assert_eq!((high << 32) | low, (5 << 32) - 10, "no torn read");
    }

    #[test]
    fn linux_set_time_sequence_sets_the_clock() {
        // goldfish_rtc_set_time(): TIME_HIGH, then TIME_LOW.
        let mut rtc = GoldfishRtc::new(EPOCH);
        let new_time = 2_000_000_000 * SEC;
        wr(&mut rtc, reg::TIME_HIGH, new_time >> 32, 10 * SEC);
        wr(&mut rtc, reg::TIME_LOW, new_time & LOW_MASK, 10 * SEC);
        assert_eq!(linux_read_time(&mut rtc, 10 * SEC, 10 * SEC), new_time);
        assert_eq!(rtc.time_ns(12 * SEC), new_time + 2 * SEC, "keeps running");
    }

    #[test]
    fn setting_time_backwards_before_the_epoch_of_simulation_works() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        rtc.set_time_ns(100 * SEC, 3 * SEC);
        assert_eq!(rtc.time_ns(100 * SEC), 3 * SEC);
        assert_eq!(rtc.time_ns(101 * SEC), 4 * SEC);
    }

    #[test]
    fn alarm_fires_when_simulated_time_reaches_it() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        linux_set_alarm(&mut rtc, EPOCH + 3 * SEC, SEC);
        assert_eq!(rtc.next_event_ns(), Some(3 * SEC));
        assert_eq!(rd(&mut rtc, reg::ALARM_STATUS, SEC), 1);
        rtc.advance_to(3 * SEC - 1);
        assert!(!rtc.irq_level());
        rtc.advance_to(3 * SEC);
        assert!(rtc.irq_level());
        assert_eq!(rtc.next_event_ns(), None);
        assert_eq!(rd(&mut rtc, reg::ALARM_STATUS, 3 * SEC), 0);
        // goldfish_rtc_interrupt(): CLEAR_INTERRUPT.
        wr(&mut rtc, reg::CLEAR_INTERRUPT, 1, 3 * SEC);
        assert!(!rtc.irq_level());
    }

    #[test]
    fn register_access_catches_up_with_a_due_alarm() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        linux_set_alarm(&mut rtc, EPOCH + SEC, 0);
        assert_eq!(rd(&mut rtc, reg::ALARM_STATUS, 2 * SEC), 0);
        assert!(rtc.irq_level());
    }

    #[test]
    fn alarm_already_due_fires_immediately() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        linux_set_alarm(&mut rtc, EPOCH - SEC, 0);
        assert!(rtc.irq_level());
        assert_eq!(rtc.next_event_ns(), None);
    }

    #[test]
    fn alarm_registers_read_back() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        let alarm = 0x1234_5678_9abc_def0;
        wr(&mut rtc, reg::ALARM_HIGH, alarm >> 32, 0);
        wr(&mut rtc, reg::ALARM_LOW, alarm & LOW_MASK, 0);
        assert_eq!(rd(&mut rtc, reg::ALARM_LOW, 0), alarm & LOW_MASK);
        assert_eq!(rd(&mut rtc, reg::ALARM_HIGH, 0), alarm >> 32);
    }

    #[test]
    fn disabled_interrupt_stays_pending_until_enabled() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        wr(&mut rtc, reg::ALARM_HIGH, (EPOCH + SEC) >> 32, 0);
        wr(&mut rtc, reg::ALARM_LOW, (EPOCH + SEC) & LOW_MASK, 0);
        rtc.advance_to(SEC);
        assert!(!rtc.irq_level(), "IRQ_ENABLED is 0");
        assert_eq!(rd(&mut rtc, reg::IRQ_ENABLED, SEC), 0);
        wr(&mut rtc, reg::IRQ_ENABLED, 1, SEC);
        assert!(rtc.irq_level());
        assert_eq!(rd(&mut rtc, reg::IRQ_ENABLED, SEC), 1);
        wr(&mut rtc, reg::IRQ_ENABLED, 0, SEC);
        assert!(!rtc.irq_level());
    }

    #[test]
    fn clear_alarm_disarms() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        linux_set_alarm(&mut rtc, EPOCH + SEC, 0);
        wr(&mut rtc, reg::CLEAR_ALARM, 1, 0);
        assert_eq!(rtc.next_event_ns(), None);
        assert_eq!(rd(&mut rtc, reg::ALARM_STATUS, 0), 0);
        rtc.advance_to(10 * SEC);
        assert!(!rtc.irq_level());
    }

    #[test]
    fn setting_the_time_moves_an_armed_alarm() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        linux_set_alarm(&mut rtc, EPOCH + 10 * SEC, 0);
        rtc.set_time_ns(SEC, EPOCH + 5 * SEC);
        assert_eq!(rtc.next_event_ns(), Some(6 * SEC));
        rtc.set_time_ns(2 * SEC, EPOCH + 20 * SEC);
        assert!(rtc.irq_level(), "alarm now in the past fires");
    }

    #[test]
    fn unassigned_words_read_zero_and_ignore_writes() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        assert_eq!(rd(&mut rtc, 0x20, 0), 0);
        assert_eq!(rd(&mut rtc, reg::CLEAR_ALARM, 0), 0);
        wr(&mut rtc, 0xffc, 1, 0);
        wr(&mut rtc, reg::ALARM_STATUS, 1, 0);
        assert_eq!(rtc.next_event_ns(), None);
    }

    #[test]
    fn bad_offsets_and_sizes_are_device_errors() {
        let mut rtc = GoldfishRtc::new(EPOCH);
        for size in [0, 1, 2, 3, 8] {
            assert_eq!(rtc.read(0, size, 0), Err(DeviceError), "size {size}");
            assert_eq!(rtc.write(0, size, 0, 0), Err(DeviceError), "size {size}");
        }
        for offset in [2, 0x11, 0x1000, u64::MAX] {
            assert_eq!(
                rtc.read(offset, 4, 0),
                Err(DeviceError),
                "offset {offset:#x}"
            );
            assert_eq!(
                rtc.write(offset, 4, 0, 0),
                Err(DeviceError),
                "offset {offset:#x}"
            );
        }
        assert_eq!(rtc.time_ns(0), EPOCH, "rejected writes have no effect");
    }

    mod prop {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn any_access_sequence_never_panics(
                epoch in any::<u64>(),
                ops in proptest::collection::vec(
                    (0u64..0x24, any::<u8>(), any::<u64>(), any::<u64>(), any::<bool>()),
                    0..100,
                ),
            ) {
                let mut rtc = GoldfishRtc::new(epoch);
                for (offset, size, value, now, is_write) in ops {
                    let size = size % 9;
                    if is_write {
                        let _ = rtc.write(offset, size, value, now);
                    } else {
                        let _ = rtc.read(offset, size, now);
                    }
                    rtc.advance_to(now);
                    if let Some(at) = rtc.next_event_ns() {
                        prop_assert!(at > now, "a due alarm has fired");
                    }
                }
            }
        }
    }
}
