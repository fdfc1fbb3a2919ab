//! Emulating a guest's load or store to a device register.
//!
//! A guest reaches its devices through uncached kernel-segment addresses or
//! through pages it maps itself (e.g. `devmem` on `/dev/mem`); either way the
//! physical CPU faults (the monitor never maps device pages), and the
//! monitor performs the access on the VM's device model and completes the
//! instruction: the loaded value goes to its register, sign- or
//! zero-extended as the instruction says.

use machine::board::{CpsDevices, CpsWindow};
use machine::{DeviceError, MmioDevice};
use mips::instr::Instr;

/// A device access decoded from a load or store instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Load `size` bytes into `rt`, sign-extending if `signed`.
    Load {
        /// Destination register.
        rt: u8,
        /// Bytes.
        size: u8,
        /// Sign-extend the value.
        signed: bool,
    },
    /// Store the low `size` bytes of `rt`.
    Store {
        /// Source register.
        rt: u8,
        /// Bytes.
        size: u8,
    },
}

/// The device access `ins` makes, for the plain aligned loads and stores a
/// driver uses; `None` for anything else (unaligned, LL/SC, FPU ...).
pub fn decode(ins: &Instr) -> Option<Access> {
    use Instr::*;
    let load = |rt, size, signed| Some(Access::Load { rt, size, signed });
    let store = |rt, size| Some(Access::Store { rt, size });
    match *ins {
        Lb { rt, .. } => load(rt, 1, true),
        Lbu { rt, .. } => load(rt, 1, false),
        Lh { rt, .. } => load(rt, 2, true),
        Lhu { rt, .. } => load(rt, 2, false),
        Lw { rt, .. } => load(rt, 4, true),
        Lwu { rt, .. } => load(rt, 4, false),
        Ld { rt, .. } => load(rt, 8, false),
        Sb { rt, .. } => store(rt, 1),
        Sh { rt, .. } => store(rt, 2),
        Sw { rt, .. } => store(rt, 4),
        Sd { rt, .. } => store(rt, 8),
        _ => None,
    }
}

/// Performs `access` at `offset` of `dev` at time `now_ns` with the guest's
/// registers `gpr`. `Err` when the device refuses the access (the guest then
/// gets a bus error) or the address is not aligned to the access size.
pub fn perform(
    access: Access,
    dev: &mut dyn MmioDevice,
    offset: u64,
    now_ns: u64,
    gpr: &mut [u64; 32],
) -> Result<(), DeviceError> {
    match access {
        Access::Load { rt, size, signed } => {
            if !offset.is_multiple_of(u64::from(size)) {
                return Err(DeviceError);
            }
            let v = dev.read(offset, size, now_ns)?;
            let bits = u32::from(size) * 8;
            let v = if signed && bits < 64 {
                (((v << (64 - bits)) as i64) >> (64 - bits)) as u64
            } else if bits < 64 {
                v & ((1u64 << bits) - 1)
            } else {
                v
            };
            if rt != 0 {
                gpr[rt as usize] = v;
            }
            Ok(())
        }
        Access::Store { rt, size } => {
            if !offset.is_multiple_of(u64::from(size)) {
                return Err(DeviceError);
            }
            let bits = u32::from(size) * 8;
            let v = gpr[rt as usize];
            let v = if bits < 64 {
                v & ((1u64 << bits) - 1)
            } else {
                v
            };
            dev.write(offset, size, v, now_ns)
        }
    }
}

/// A CPS register window as seen by one vCPU: the core-local and VP-local
/// blocks show that vCPU's own registers.
#[derive(Debug)]
pub struct OnCpu<'a> {
    /// The VM's CM, CPC and GIC.
    pub devices: &'a mut CpsDevices,
    /// Which window.
    pub window: CpsWindow,
    /// The accessing vCPU (core and VP number).
    pub cpu: u32,
}

impl MmioDevice for OnCpu<'_> {
    fn read(&mut self, offset: u64, size: u8, now_ns: u64) -> Result<u64, DeviceError> {
        self.devices
            .access(self.cpu, self.window, offset, size, None, now_ns)
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, now_ns: u64) -> Result<(), DeviceError> {
        self.devices
            .access(self.cpu, self.window, offset, size, Some(value), now_ns)
            .map(|_| ())
    }

    fn name(&self) -> &'static str {
        match self.window {
            CpsWindow::Gcr => "gcr",
            CpsWindow::Cpc => "cpc",
            CpsWindow::Gic => "gic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device with one 64-bit register.
    struct Reg(u64);

    impl MmioDevice for Reg {
        fn read(&mut self, offset: u64, size: u8, _: u64) -> Result<u64, DeviceError> {
            let shift = offset * 8;
            let mask = if size == 8 {
                u64::MAX
            } else {
                (1 << (size * 8)) - 1
            };
            (offset < 8)
                .then_some((self.0 >> shift) & mask)
                .ok_or(DeviceError)
        }
        fn write(&mut self, offset: u64, size: u8, v: u64, _: u64) -> Result<(), DeviceError> {
            if offset != 0 {
                return Err(DeviceError);
            }
            let mask = if size == 8 {
                u64::MAX
            } else {
                (1 << (size * 8)) - 1
            };
            self.0 = (self.0 & !mask) | (v & mask);
            Ok(())
        }
        fn name(&self) -> &'static str {
            "reg"
        }
    }

    #[test]
    fn loads_extend_as_their_instruction_says() {
        let mut dev = Reg(0x8000_0000_ffff_fff0);
        let mut gpr = [0u64; 32];
        let lw = decode(&Instr::Lw {
            rt: 2,
            base: 4,
            off: 0,
        })
        .unwrap();
        perform(lw, &mut dev, 0, 0, &mut gpr).unwrap();
        assert_eq!(gpr[2], 0xffff_ffff_ffff_fff0);
        let lwu = decode(&Instr::Lwu {
            rt: 3,
            base: 4,
            off: 0,
        })
        .unwrap();
        perform(lwu, &mut dev, 0, 0, &mut gpr).unwrap();
        assert_eq!(gpr[3], 0xffff_fff0);
        let lbu = decode(&Instr::Lbu {
            rt: 5,
            base: 4,
            off: 0,
        })
        .unwrap();
        perform(lbu, &mut dev, 1, 0, &mut gpr).unwrap();
        assert_eq!(gpr[5], 0xff);
        let ld = decode(&Instr::Ld {
            rt: 0,
            base: 4,
            off: 0,
        })
        .unwrap();
        perform(ld, &mut dev, 0, 0, &mut gpr).unwrap();
        assert_eq!(gpr[0], 0, "$0 stays zero");
    }

    #[test]
    fn stores_write_the_low_bytes_and_bad_accesses_fail() {
        let mut dev = Reg(0);
        let mut gpr = [0u64; 32];
        gpr[7] = 0x1234_5678_9abc_def0;
        let sw = decode(&Instr::Sw {
            rt: 7,
            base: 4,
            off: 0,
        })
        .unwrap();
        perform(sw, &mut dev, 0, 0, &mut gpr).unwrap();
        assert_eq!(dev.0, 0x9abc_def0);
        assert!(perform(sw, &mut dev, 2, 0, &mut gpr).is_err(), "unaligned");
        assert!(perform(sw, &mut dev, 8, 0, &mut gpr).is_err(), "refused");
        assert_eq!(
            decode(&Instr::Ll {
                rt: 1,
                base: 2,
                off: 0
            }),
            None
        );
    }
}
