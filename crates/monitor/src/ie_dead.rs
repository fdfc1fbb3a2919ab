//! Proving that a Status read does not depend on Status.IE.
//!
//! A rewritten `di`/`ei` changes only the register page's IE word, so the
//! page's Status slot may hold a stale IE bit while the guest runs
//! ([`crate::regpage`]). A `mfc0 rt, Status` may still become a load of
//! that slot when what the guest computes from the value cannot depend on
//! IE: when the instructions that follow overwrite or discard the IE bit
//! before anything reads it. Linux's exception entry and return do exactly
//! that:
//!
//! | Code | Why IE is dead |
//! |---|---|
//! | `mfc0 k0, Status; sll k0, k0, 3; bltz k0, 1f; move k0, sp` | the branch tests CU0 only; the delay slot overwrites `k0` on both paths |
//! | `mfc0 t4, Status; lui t5, 0x1000; ori t5, t5, 0x1f; or t4, t4, t5` | `or` forces IE to 1 (`STI`) |
//! | `mfc0 a0, Status; ori a0, a0, 0x1f` | `ori` forces IE to 1 (`RESTORE_SOME`) |
//!
//! [`ie_is_dead`] follows the straight-line instructions after the read,
//! tracking for each register which bits carry the read's IE bit ("taint")
//! and which bits are known constants. It succeeds as soon as no register
//! carries IE any more, and gives up (the read keeps trapping) on any
//! instruction it does not model that reads a tainted register, on a
//! branch that tests a tainted bit, and at the end of the window. A path
//! that jumps into the window never executed the rewritten read, so the
//! proof needs no knowledge of other control flow.
//!
//! One difference remains visible in principle: between the read and the
//! instruction that overwrites IE, the register holds the slot's IE bit
//! for a few instructions. Only an interrupt taken exactly there, whose
//! handler inspects the interrupted kernel's saved registers, could see
//! it; the value the guest goes on to compute is the same.

use mips::{decode, Instr};

/// What is known about one register.
#[derive(Clone, Copy, Default)]
struct Bits {
    /// Bits that carry the read's IE bit.
    taint: u64,
    /// Bits known to be 1.
    ones: u64,
    /// Bits known to be 0.
    zeros: u64,
}

impl Bits {
    const ZERO: Bits = Bits {
        taint: 0,
        ones: 0,
        zeros: !0,
    };

    fn constant(v: u64) -> Bits {
        Bits {
            taint: 0,
            ones: v,
            zeros: !v,
        }
    }
}

/// The register file as the analysis sees it.
struct Regs([Bits; 32]);

impl Regs {
    fn get(&self, r: u8) -> Bits {
        self.0[usize::from(r & 31)]
    }

    fn set(&mut self, r: u8, b: Bits) {
        if r & 31 != 0 {
            self.0[usize::from(r & 31)] = b;
        }
    }

    fn tainted(&self) -> bool {
        self.0.iter().any(|b| b.taint != 0)
    }
}

/// Sign-extends the low 32 bits of a bit mask, as a 32-bit result does.
fn sx32_mask(m: u64) -> u64 {
    let low = m & 0xffff_ffff;
    if low & 0x8000_0000 != 0 {
        low | 0xffff_ffff_0000_0000
    } else {
        low
    }
}

/// What `ins` leaves in the registers; `None` when the analysis cannot
/// follow it (it reads IE in a way not modelled).
fn step(regs: &mut Regs, ins: &Instr) -> Option<()> {
    match *ins {
        Instr::Nop | Instr::Ssnop | Instr::Ehb => {}
        Instr::Lui { rt, imm } => {
            regs.set(rt, Bits::constant(sx32_mask(u64::from(imm) << 16)));
        }
        Instr::Addiu { rt, rs: 0, imm } | Instr::Daddiu { rt, rs: 0, imm } => {
            regs.set(rt, Bits::constant(imm as i64 as u64));
        }
        Instr::Ori { rt, rs, imm } => {
            let (s, imm) = (regs.get(rs), u64::from(imm));
            regs.set(
                rt,
                Bits {
                    taint: s.taint & !imm,
                    ones: s.ones | imm,
                    zeros: s.zeros & !imm,
                },
            );
        }
        Instr::Andi { rt, rs, imm } => {
            let (s, imm) = (regs.get(rs), u64::from(imm));
            regs.set(
                rt,
                Bits {
                    taint: s.taint & imm,
                    ones: s.ones & imm,
                    zeros: s.zeros | !imm,
                },
            );
        }
        Instr::Xori { rt, rs, imm } => {
            let (s, imm) = (regs.get(rs), u64::from(imm));
            regs.set(
                rt,
                Bits {
                    taint: s.taint,
                    ones: (s.ones & !imm) | (s.zeros & imm),
                    zeros: (s.zeros & !imm) | (s.ones & imm),
                },
            );
        }
        Instr::Or { rd, rs, rt } => {
            let (a, b) = (regs.get(rs), regs.get(rt));
            regs.set(
                rd,
                Bits {
                    taint: (a.taint & !b.ones) | (b.taint & !a.ones),
                    ones: a.ones | b.ones,
                    zeros: a.zeros & b.zeros,
                },
            );
        }
        Instr::And { rd, rs, rt } => {
            let (a, b) = (regs.get(rs), regs.get(rt));
            regs.set(
                rd,
                Bits {
                    taint: (a.taint & !b.zeros) | (b.taint & !a.zeros),
                    ones: a.ones & b.ones,
                    zeros: a.zeros | b.zeros,
                },
            );
        }
        Instr::Sll { rd, rt, sa } => {
            let t = regs.get(rt);
            let low = (1u64 << sa) - 1;
            regs.set(
                rd,
                Bits {
                    taint: sx32_mask(t.taint << sa),
                    ones: 0,
                    zeros: low,
                },
            );
        }
        _ => return None,
    }
    Some(())
}

/// True when the IE bit read by `mfc0 rt, Status` cannot influence what
/// the guest computes, given the instruction words that follow the read
/// (on the same page; the read must not sit in a delay slot).
pub fn ie_is_dead(rt: u8, following: &[u32]) -> bool {
    let mut regs = Regs([Bits::default(); 32]);
    regs.0[0] = Bits::ZERO;
    regs.set(
        rt,
        Bits {
            taint: mips::cp0::status::IE,
            ones: 0,
            zeros: 0,
        },
    );
    let mut words = following.iter().map(|&w| decode(w));
    while regs.tainted() {
        let Some(ins) = words.next() else {
            return false;
        };
        match ins {
            // A branch on the sign bit: its delay slot runs on both paths,
            // after which nothing may carry IE.
            Instr::Bltz { rs, .. } | Instr::Bgez { rs, .. } => {
                if regs.get(rs).taint >> 63 != 0 {
                    return false;
                }
                let Some(slot) = words.next() else {
                    return false;
                };
                return !slot.has_delay_slot()
                    && step(&mut regs, &slot).is_some()
                    && !regs.tainted();
            }
            _ => {
                if step(&mut regs, &ins).is_none() {
                    return false;
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    // Linux's own words, from the Debian kernel's exception code.
    const SLL_K0_3: u32 = 0x001a_d0c0;
    const BLTZ_K0: u32 = 0x0740_0007;
    const MOVE_K0_SP: u32 = 0x03a0_d025;
    const NOP: u32 = 0;
    const LUI_T5: u32 = 0x3c0d_1000;
    const ORI_T5_1F: u32 = 0x35ad_001f;
    const ORI_T5_1E: u32 = 0x35ad_001e;
    const OR_T4_T5: u32 = 0x018d_6025;
    const XORI_T4_1E: u32 = 0x398c_001e;
    const MTC0_T4_STATUS: u32 = 0x408c_6000;
    const ORI_A0_1F: u32 = 0x3484_001f;
    const SD_V0: u32 = 0xffa2_0010;
    const SD_V1: u32 = 0xffa3_0100;
    const K0: u8 = 26;
    const T4: u8 = 12;
    const A0: u8 = 4;
    const V1: u8 = 3;

    #[test]
    fn the_exception_entry_mode_test_discards_ie() {
        assert!(ie_is_dead(K0, &[SLL_K0_3, BLTZ_K0, MOVE_K0_SP, NOP]));
    }

    #[test]
    fn a_branch_whose_delay_slot_keeps_the_value_is_not_proof() {
        // `nop` in the delay slot: k0 still carries IE (at bit 3) on both paths.
        assert!(!ie_is_dead(K0, &[SLL_K0_3, BLTZ_K0, NOP, MOVE_K0_SP]));
    }

    #[test]
    fn a_branch_on_a_tainted_sign_bit_is_not_proof() {
        // After `sll 31`, the sign bit is IE itself.
        let sll_k0_31 = 0x001a_d7c0;
        assert!(!ie_is_dead(K0, &[sll_k0_31, BLTZ_K0, MOVE_K0_SP]));
    }

    #[test]
    fn sti_forces_ie_but_kmode_keeps_it() {
        assert!(ie_is_dead(
            T4,
            &[LUI_T5, ORI_T5_1F, OR_T4_T5, XORI_T4_1E, MTC0_T4_STATUS]
        ));
        assert!(!ie_is_dead(
            T4,
            &[LUI_T5, ORI_T5_1E, OR_T4_T5, XORI_T4_1E, MTC0_T4_STATUS]
        ));
    }

    #[test]
    fn the_return_path_forces_ie() {
        assert!(ie_is_dead(A0, &[ORI_A0_1F]));
    }

    #[test]
    fn saving_the_value_keeps_ie_live() {
        assert!(!ie_is_dead(V1, &[SD_V0, SD_V1]));
    }

    #[test]
    fn running_out_of_words_is_not_proof() {
        assert!(!ie_is_dead(A0, &[NOP, NOP]));
        assert!(!ie_is_dead(A0, &[]));
    }

    #[test]
    fn masking_ie_off_is_proof_and_xor_is_not() {
        let andi_a0_fffe = 0x3084_fffe;
        let xori_a0_1 = 0x3884_0001;
        assert!(ie_is_dead(A0, &[andi_a0_fffe]));
        assert!(!ie_is_dead(A0, &[xori_a0_1, NOP]));
    }

    #[test]
    fn overwriting_the_register_is_proof() {
        let lui_a0 = 0x3c04_1234;
        assert!(ie_is_dead(A0, &[NOP, lui_a0]));
    }
}
