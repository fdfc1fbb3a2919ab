//! Rewriting privileged instructions on their first trap (§4.3.3).
//!
//! Disco patched IRIX's HAL so that frequent privileged instructions became
//! loads and stores on a special page, and noted that "the patches could
//! easily be automatically applied when the privileged instruction first
//! generates a trap". This monitor does exactly that to the unmodified
//! Debian kernel, in guest memory only, once it has emulated the trap:
//!
//! | Guest instruction | Becomes | Why it is exact |
//! |---|---|---|
//! | `mfc0`/`dmfc0 rt, r` (r [readable](crate::regpage::readable)) | `lw`/`ld rt, slot(r)($zero)` | the slot holds the register while the guest runs |
//! | `mtc0 rt, r` (32-bit r) / `dmtc0 rt, r` (64-bit r) [writable](crate::regpage::writable) | `sw`/`sd rt, slot(r)($zero)` | r is storage until a trapping instruction uses it, and the monitor takes it back first |
//! | `di` | `sd $zero, IE($zero)` | interrupts are off while the IE word is zero |
//! | `ei` | `sd $sp, IE($zero)` | kernel code always has a non-zero stack pointer |
//! | `di rX; andi rX, rX, 1; ehb` (`local_irq_save`) | `ld rX, IE; sd $zero, IE; sltu rX, $zero, rX` | rX gets the old IE bit, IE is cleared |
//! | `mfc0`/`dmfc0 rt, Count` | `rdhwr rt, $2` | the hardware register CC is the physical Count, which the monitor keeps equal to the virtual Count while the vCPU runs, and `rdhwr` is allowed in the guest kernel's mode |
//! | `cache` | `nop` | the monitor emulates every cache operation as nothing: the machine's caches are coherent with instruction fetch and DMA |
//! | `mfc0 rt, Status` whose IE bit the following code discards ([`crate::ie_dead`]) | `lw rt, Status($zero)` | the Status slot is exact but for IE, which a rewritten `di`/`ei` may have changed; the guest never uses that bit of the value |
//!
//! Nothing else is rewritten: Random and other Status reads (they change
//! without the monitor), writes with side effects (Status, EntryHi's ASID,
//! Compare, Wired, Cause), TLB instructions, `eret`, `wait`, and `di rX`
//! outside the `local_irq_save` idiom keep trapping. A virtual interrupt
//! that a rewritten `ei` enables is delivered at the next entry into the
//! monitor (a trap or the end of the scheduling quantum) instead of at once.

use mips::cp0::reg;
use mips::{decode, Instr};

use crate::ie_dead;
use crate::regpage::{self, IE_OFFSET, REGPAGE_VA};

/// How many instruction words after a trapping one [`rewrite`] may look at.
pub const WINDOW: usize = 8;

/// `$sp`.
const SP: u8 = 29;
/// `ehb` (`sll $0, $0, 3`).
const EHB: u32 = 0x0000_00c0;
/// `nop` (`sll $0, $0, 0`).
const NOP: u32 = 0;

/// A rewrite: the words that replace the trapping instruction and, for the
/// `local_irq_save` idiom, the two after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// New instruction words, from the trapping instruction on.
    pub words: Vec<u32>,
    /// For the `local_irq_save` idiom: its register. The trap emulated only
    /// the `di`; [`Rewrite::complete`] does the rest of the idiom.
    idiom_rt: Option<u8>,
}

impl Rewrite {
    fn one(word: u32) -> Option<Self> {
        Some(Rewrite {
            words: vec![word],
            idiom_rt: None,
        })
    }

    /// Finishes, on the vCPU's state `shadow` (whose trapping instruction
    /// at `at` was just emulated), what the replaced words after it would
    /// have done, so that the guest resumes after the rewritten words: the
    /// idiom's `andi rX, rX, 1` (the `ehb` does nothing).
    pub fn complete(&self, shadow: &mut mips::Cpu, at: u64) {
        if let Some(rt) = self.idiom_rt {
            let v = shadow.gpr[usize::from(rt)] & 1;
            shadow.gpr[usize::from(rt)] = v;
            shadow.pc = at.wrapping_add(4 * self.words.len() as u64);
        }
    }
}

/// A load or store (`opcode`) of `rt` at `offset` into the register page,
/// with base `$zero`.
fn page_access(opcode: u32, rt: u8, offset: u64) -> u32 {
    let imm = (REGPAGE_VA.wrapping_add(offset) as i64) as u32 & 0xffff;
    (opcode << 26) | (u32::from(rt & 31) << 16) | imm
}

const LW: u32 = 0x23;
const LD: u32 = 0x37;
const SW: u32 = 0x2b;
const SD: u32 = 0x3f;

/// `andi rt, rs, imm`.
fn andi(rt: u8, rs: u8, imm: u16) -> u32 {
    (0x0c << 26) | (u32::from(rs) << 21) | (u32::from(rt) << 16) | u32::from(imm)
}

/// `rdhwr rt, $2` (CC, the cycle counter: Count).
fn rdhwr_cc(rt: u8) -> u32 {
    (0x1f << 26) | (u32::from(rt & 31) << 16) | (2 << 11) | 0x3b
}

/// `sltu rd, rs, rt`.
fn sltu(rd: u8, rs: u8, rt: u8) -> u32 {
    (u32::from(rs) << 21) | (u32::from(rt) << 16) | (u32::from(rd) << 11) | 0x2b
}

/// The rewrite of privileged instruction `ins`, which trapped in guest
/// kernel mode and was emulated; `in_delay_slot` when it sits in a branch
/// delay slot; `following` the instruction words after it that lie on the
/// same page (up to [`WINDOW`]). `None`: it keeps trapping.
pub fn rewrite(ins: &Instr, in_delay_slot: bool, following: &[u32]) -> Option<Rewrite> {
    let slot = |rd: u8, sel: u8| regpage::slot_offset(rd, sel);
    match *ins {
        Instr::Mfc0 {
            rt,
            rd: reg::COUNT,
            sel: 0,
        }
        | Instr::Dmfc0 {
            rt,
            rd: reg::COUNT,
            sel: 0,
        } => Rewrite::one(rdhwr_cc(rt)),
        Instr::Mfc0 { rt, rd, sel } if regpage::readable(rd, sel) => {
            Rewrite::one(page_access(LW, rt, slot(rd, sel)))
        }
        Instr::Dmfc0 { rt, rd, sel } if regpage::readable(rd, sel) => {
            Rewrite::one(page_access(LD, rt, slot(rd, sel)))
        }
        Instr::Mtc0 { rt, rd, sel } if regpage::writable(rd, sel) == Some(false) => {
            Rewrite::one(page_access(SW, rt, slot(rd, sel)))
        }
        Instr::Dmtc0 { rt, rd, sel } if regpage::writable(rd, sel) == Some(true) => {
            Rewrite::one(page_access(SD, rt, slot(rd, sel)))
        }
        Instr::Di { rt: 0 } => Rewrite::one(page_access(SD, 0, IE_OFFSET)),
        Instr::Ei { rt: 0 } => Rewrite::one(page_access(SD, SP, IE_OFFSET)),
        Instr::Mfc0 {
            rt,
            rd: reg::STATUS,
            sel: 0,
        } if !in_delay_slot && ie_dead::ie_is_dead(rt, following) => {
            Rewrite::one(page_access(LW, rt, regpage::STATUS_OFFSET))
        }
        Instr::Di { rt } if !in_delay_slot && following.starts_with(&[andi(rt, rt, 1), EHB]) => {
            Some(Rewrite {
                words: vec![
                    page_access(LD, rt, IE_OFFSET),
                    page_access(SD, 0, IE_OFFSET),
                    sltu(rt, 0, rt),
                ],
                idiom_rt: Some(rt),
            })
        }
        Instr::Cache { .. } => Rewrite::one(NOP),
        _ => None,
    }
}

/// True when `word` is an instruction this module writes (for tests and
/// inspection; a rewritten word is never privileged, so it cannot trap and
/// be rewritten again).
pub fn is_rewritten(word: u32) -> bool {
    match decode(word) {
        Instr::Lw { base: 0, off, .. }
        | Instr::Ld { base: 0, off, .. }
        | Instr::Sw { base: 0, off, .. }
        | Instr::Sd { base: 0, off, .. } => regpage::contains((off as i64) as u64),
        Instr::Rdhwr { rd: 2, .. } => true,
        _ => word == NOP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn di(rt: u8) -> u32 {
        0x4160_6000 | (u32::from(rt) << 16)
    }

    #[test]
    fn the_encoders_agree_with_the_decoder() {
        assert_eq!(
            decode(andi(4, 4, 1)),
            Instr::Andi {
                rt: 4,
                rs: 4,
                imm: 1
            }
        );
        assert_eq!(
            decode(sltu(4, 0, 4)),
            Instr::Sltu {
                rd: 4,
                rs: 0,
                rt: 4
            }
        );
        assert_eq!(decode(di(4)), Instr::Di { rt: 4 });
        let w = page_access(LD, 2, regpage::slot_offset(reg::BADVADDR, 0));
        let Instr::Ld {
            rt: 2,
            base: 0,
            off,
        } = decode(w)
        else {
            panic!("not a load: {:?}", decode(w));
        };
        assert_eq!(
            off as i64 as u64,
            REGPAGE_VA + regpage::slot_offset(reg::BADVADDR, 0)
        );
        assert!(is_rewritten(w));
    }

    #[test]
    fn register_moves_become_page_accesses() {
        let r = rewrite(
            &Instr::Dmfc0 {
                rt: 26,
                rd: reg::BADVADDR,
                sel: 0,
            },
            false,
            &[],
        )
        .unwrap();
        assert!(matches!(
            decode(r.words[0]),
            Instr::Ld {
                rt: 26,
                base: 0,
                ..
            }
        ));
        let r = rewrite(
            &Instr::Mfc0 {
                rt: 3,
                rd: reg::CONFIG,
                sel: 1,
            },
            true,
            &[],
        )
        .unwrap();
        assert!(matches!(
            decode(r.words[0]),
            Instr::Lw { rt: 3, base: 0, .. }
        ));
        let r = rewrite(
            &Instr::Dmtc0 {
                rt: 8,
                rd: reg::ENTRYLO1,
                sel: 0,
            },
            false,
            &[],
        )
        .unwrap();
        assert!(matches!(
            decode(r.words[0]),
            Instr::Sd { rt: 8, base: 0, .. }
        ));
    }

    #[test]
    fn registers_with_side_effects_or_moving_values_keep_trapping() {
        let keep = [
            Instr::Mfc0 {
                rt: 2,
                rd: reg::RANDOM,
                sel: 0,
            },
            Instr::Mfc0 {
                rt: 2,
                rd: reg::STATUS,
                sel: 0,
            },
            Instr::Mtc0 {
                rt: 2,
                rd: reg::STATUS,
                sel: 0,
            },
            Instr::Dmtc0 {
                rt: 2,
                rd: reg::ENTRYHI,
                sel: 0,
            },
            Instr::Mtc0 {
                rt: 2,
                rd: reg::COMPARE,
                sel: 0,
            },
            // A 64-bit register written with a 32-bit move, and the reverse.
            Instr::Mtc0 {
                rt: 2,
                rd: reg::ENTRYLO0,
                sel: 0,
            },
            Instr::Dmtc0 {
                rt: 2,
                rd: reg::PAGEMASK,
                sel: 0,
            },
            Instr::Tlbwi,
            Instr::Tlbp,
            Instr::Eret,
            Instr::Wait,
            Instr::Ei { rt: 2 },
        ];
        for ins in keep {
            assert_eq!(rewrite(&ins, false, &[0, 0]), None, "{ins:?}");
        }
    }

    #[test]
    fn interrupt_enable_and_disable_become_stores_of_the_ie_word() {
        let off = |w: u32| match decode(w) {
            Instr::Sd { rt, base: 0, off } => (rt, off as i64 as u64 - REGPAGE_VA),
            other => panic!("not a store: {other:?}"),
        };
        let r = rewrite(&Instr::Di { rt: 0 }, true, &[]).unwrap();
        assert_eq!(off(r.words[0]), (0, IE_OFFSET));
        let r = rewrite(&Instr::Ei { rt: 0 }, false, &[]).unwrap();
        assert_eq!(off(r.words[0]), (SP, IE_OFFSET));
    }

    #[test]
    fn the_irq_save_idiom_is_rewritten_whole_and_only_whole() {
        let idiom: &[u32] = &[andi(5, 5, 1), EHB];
        let r = rewrite(&Instr::Di { rt: 5 }, false, idiom).unwrap();
        assert_eq!(r.words.len(), 3);
        assert!(matches!(
            decode(r.words[0]),
            Instr::Ld { rt: 5, base: 0, .. }
        ));
        assert!(matches!(
            decode(r.words[1]),
            Instr::Sd { rt: 0, base: 0, .. }
        ));
        assert_eq!(
            decode(r.words[2]),
            Instr::Sltu {
                rd: 5,
                rs: 0,
                rt: 5
            }
        );
        // Another register in the andi, no hazard barrier, a delay slot, or
        // a page end: it keeps trapping.
        assert_eq!(
            rewrite(&Instr::Di { rt: 5 }, false, &[andi(6, 5, 1), EHB]),
            None
        );
        assert_eq!(
            rewrite(&Instr::Di { rt: 5 }, false, &[andi(5, 5, 1), NOP]),
            None
        );
        assert_eq!(rewrite(&Instr::Di { rt: 5 }, true, idiom), None);
        assert_eq!(rewrite(&Instr::Di { rt: 5 }, false, &[]), None);
    }

    #[test]
    fn status_reads_whose_ie_is_dead_become_loads_of_the_status_slot() {
        let read = Instr::Mfc0 {
            rt: 4,
            rd: reg::STATUS,
            sel: 0,
        };
        // `ori a0, a0, 0x1f` forces IE.
        let ori = 0x3484_001f;
        let r = rewrite(&read, false, &[ori]).unwrap();
        let Instr::Lw {
            rt: 4,
            base: 0,
            off,
        } = decode(r.words[0])
        else {
            panic!("not a load: {:?}", decode(r.words[0]));
        };
        assert_eq!(
            off as i64 as u64,
            REGPAGE_VA + regpage::slot_offset(reg::STATUS, 0)
        );
        assert!(is_rewritten(r.words[0]));
        // In a delay slot the next word need not run next.
        assert_eq!(rewrite(&read, true, &[ori]), None);
    }

    #[test]
    fn count_reads_become_reads_of_the_cycle_counter() {
        let r = rewrite(
            &Instr::Mfc0 {
                rt: 7,
                rd: reg::COUNT,
                sel: 0,
            },
            false,
            &[],
        )
        .unwrap();
        assert_eq!(decode(r.words[0]), Instr::Rdhwr { rt: 7, rd: 2 });
        assert!(is_rewritten(r.words[0]));
    }

    #[test]
    fn cache_operations_become_nops() {
        let r = rewrite(
            &Instr::Cache {
                op: 0x15,
                base: 4,
                off: 32,
            },
            false,
            &[],
        )
        .unwrap();
        assert_eq!(r.words, vec![NOP]);
    }
}
