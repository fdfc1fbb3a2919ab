//! Table-driven instruction cases with hand-derived expected results (from the
//! MIPS64 Release 2 manual, Volume II).
//!
//! Each case is a short position-independent code sequence, initial register,
//! HI/LO and data-buffer contents, and the expected registers, HI/LO, buffer or
//! exception. `instructions.rs` runs every case on our CPU; `differential.rs`
//! runs the same cases under `qemu-mips64el -cpu MIPS64R2-generic` to confirm
//! that the expected values agree with QEMU. Cases are therefore free of
//! privileged or mode-dependent instructions, and never use `$k0` (the QEMU
//! wrapper's output pointer). `$s0` ([`BUF`]) points at a 64-byte, 64-byte
//! aligned data buffer; all other registers, HI and LO start at zero unless a
//! case sets them.

use mips::ExcCode;

use super::asm::*;

/// Register holding the data buffer address.
pub const BUF: u8 = S0;
/// Size of the data buffer.
pub const BUF_LEN: usize = 64;

/// An expected register value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// This exact value.
    Abs(u64),
    /// The address of the case's first instruction plus this offset.
    Code(u64),
}

#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub code: Vec<u32>,
    pub init: Vec<(u8, u64)>,
    pub init_hilo: (u64, u64),
    pub mem: [u8; BUF_LEN],
    pub exception: Option<ExcCode>,
    pub regs: Vec<(u8, Val)>,
    pub hilo: Option<(u64, u64)>,
    pub mem_out: Option<[u8; BUF_LEN]>,
}

impl Case {
    pub fn new(name: impl Into<String>, code: Vec<u32>) -> Self {
        Case {
            name: name.into(),
            code,
            init: Vec::new(),
            init_hilo: (0, 0),
            mem: [0; BUF_LEN],
            exception: None,
            regs: Vec::new(),
            hilo: None,
            mem_out: None,
        }
    }
    /// Sets an initial register value.
    pub fn reg(mut self, r: u8, v: u64) -> Self {
        assert!(
            r != 0 && r != K0 && r != BUF,
            "case {} sets ${r}",
            self.name
        );
        self.init.push((r, v));
        self
    }
    pub fn hilo(mut self, hi: u64, lo: u64) -> Self {
        self.init_hilo = (hi, lo);
        self
    }
    /// Initial buffer contents (the rest stays zero).
    pub fn mem(mut self, bytes: &[u8]) -> Self {
        self.mem[..bytes.len()].copy_from_slice(bytes);
        self
    }
    pub fn expect(mut self, r: u8, v: u64) -> Self {
        self.regs.push((r, Val::Abs(v)));
        self
    }
    /// Expects `r` to hold the address of the case's code plus `off`.
    pub fn expect_code(mut self, r: u8, off: u64) -> Self {
        self.regs.push((r, Val::Code(off)));
        self
    }
    pub fn expect_hilo(mut self, hi: u64, lo: u64) -> Self {
        self.hilo = Some((hi, lo));
        self
    }
    /// Expects the buffer to hold its initial contents with `bytes` written at
    /// `at`.
    pub fn expect_mem_at(mut self, at: usize, bytes: &[u8]) -> Self {
        let mut m = self.mem_out.unwrap_or(self.mem);
        m[at..at + bytes.len()].copy_from_slice(bytes);
        self.mem_out = Some(m);
        self
    }
    /// Expects the buffer to be unchanged.
    pub fn expect_mem_unchanged(mut self) -> Self {
        self.mem_out = Some(self.mem);
        self
    }
    /// Expects the last instruction to raise `code` (and, for the listed
    /// registers, not to have written them).
    pub fn raises(mut self, code: ExcCode) -> Self {
        self.exception = Some(code);
        self
    }
}

/// Sentinel value preloaded into destination registers of faulting cases.
pub const UNTOUCHED: u64 = 0x5555_aaaa_5555;

const NEG1: u64 = u64::MAX;
const INT_MIN32: u64 = 0xffff_ffff_8000_0000;
const INT_MIN64: u64 = 0x8000_0000_0000_0000;
const INT_MAX64: u64 = 0x7fff_ffff_ffff_ffff;

type Rrr = fn(u8, u8, u8) -> u32;
type Rri = fn(u8, u8, i16) -> u32;
type Rru = fn(u8, u8, u16) -> u32;
type Shift = fn(u8, u8, u8) -> u32;
type Hilo = fn(u8, u8) -> u32;
type Unary = fn(u8, u8) -> u32;
type Field = fn(u8, u8, u8, u8) -> u32;
type MemOp = fn(u8, i16, u8) -> u32;

/// `op v0, a0, a1` cases: (a0, a1, expected v0).
fn rrr(name: &str, op: Rrr, rows: &[(u64, u64, u64)]) -> Vec<Case> {
    rows.iter()
        .map(|&(a, b, want)| {
            Case::new(format!("{name} {a:#x}, {b:#x}"), vec![op(V0, A0, A1)])
                .reg(A0, a)
                .reg(A1, b)
                .expect(V0, want)
        })
        .collect()
}

/// `op v0, a0, a1` that must raise Integer Overflow and leave v0 alone.
fn rrr_ov(name: &str, op: Rrr, rows: &[(u64, u64)]) -> Vec<Case> {
    rows.iter()
        .map(|&(a, b)| {
            Case::new(
                format!("{name} {a:#x}, {b:#x} overflows"),
                vec![op(V0, A0, A1)],
            )
            .reg(A0, a)
            .reg(A1, b)
            .reg(V0, UNTOUCHED)
            .raises(ExcCode::Ov)
            .expect(V0, UNTOUCHED)
        })
        .collect()
}

/// `op v0, a0, imm` cases.
fn rri(name: &str, op: Rri, rows: &[(u64, i16, u64)]) -> Vec<Case> {
    rows.iter()
        .map(|&(a, imm, want)| {
            Case::new(format!("{name} {a:#x}, {imm}"), vec![op(V0, A0, imm)])
                .reg(A0, a)
                .expect(V0, want)
        })
        .collect()
}

fn rri_ov(name: &str, op: Rri, rows: &[(u64, i16)]) -> Vec<Case> {
    rows.iter()
        .map(|&(a, imm)| {
            Case::new(
                format!("{name} {a:#x}, {imm} overflows"),
                vec![op(V0, A0, imm)],
            )
            .reg(A0, a)
            .reg(V0, UNTOUCHED)
            .raises(ExcCode::Ov)
            .expect(V0, UNTOUCHED)
        })
        .collect()
}

fn rru(name: &str, op: Rru, rows: &[(u64, u16, u64)]) -> Vec<Case> {
    rows.iter()
        .map(|&(a, imm, want)| {
            Case::new(format!("{name} {a:#x}, {imm:#x}"), vec![op(V0, A0, imm)])
                .reg(A0, a)
                .expect(V0, want)
        })
        .collect()
}

/// `op v0, a0, sa` cases.
fn shift(name: &str, op: Shift, rows: &[(u64, u8, u64)]) -> Vec<Case> {
    rows.iter()
        .map(|&(a, sa, want)| {
            Case::new(format!("{name} {a:#x}, {sa}"), vec![op(V0, A0, sa)])
                .reg(A0, a)
                .expect(V0, want)
        })
        .collect()
}

/// `op v0, a0, a1` shift-by-register cases (a0 value, a1 amount).
fn shiftv(name: &str, op: Rrr, rows: &[(u64, u64, u64)]) -> Vec<Case> {
    rows.iter()
        .map(|&(a, s, want)| {
            Case::new(format!("{name} {a:#x} by {s}"), vec![op(V0, A0, A1)])
                .reg(A0, a)
                .reg(A1, s)
                .expect(V0, want)
        })
        .collect()
}

/// `op a0, a1` into HI/LO: (initial hi, initial lo, a0, a1, hi, lo).
fn hilo(name: &str, op: Hilo, rows: &[(u64, u64, u64, u64, u64, u64)]) -> Vec<Case> {
    rows.iter()
        .map(|&(hi0, lo0, a, b, hi, lo)| {
            Case::new(format!("{name} {a:#x}, {b:#x}"), vec![op(A0, A1)])
                .hilo(hi0, lo0)
                .reg(A0, a)
                .reg(A1, b)
                .expect_hilo(hi, lo)
        })
        .collect()
}

fn unary(name: &str, op: Unary, rows: &[(u64, u64)]) -> Vec<Case> {
    rows.iter()
        .map(|&(a, want)| {
            Case::new(format!("{name} {a:#x}"), vec![op(V0, A0)])
                .reg(A0, a)
                .expect(V0, want)
        })
        .collect()
}

/// Bit-field cases `op v0, a0, pos, size`: (initial v0, a0, pos, size, v0).
fn field(name: &str, op: Field, rows: &[(u64, u64, u8, u8, u64)]) -> Vec<Case> {
    rows.iter()
        .map(|&(v0, a, pos, size, want)| {
            Case::new(
                format!("{name} {a:#x}, {pos}, {size}"),
                vec![op(V0, A0, pos, size)],
            )
            .reg(V0, v0)
            .reg(A0, a)
            .expect(V0, want)
        })
        .collect()
}

pub fn add_sub_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(rrr(
        "addu",
        addu,
        &[
            (0x7fff_ffff, 1, INT_MIN32),
            (NEG1, 1, 0),
            (INT_MIN32, NEG1, 0x7fff_ffff),
            (0x1234, 0x10, 0x1244),
        ],
    ));
    v.extend(rrr(
        "add",
        add,
        &[
            (5, NEG1 - 2, 2),
            (INT_MIN32, 0x7fff_ffff, NEG1),
            (0x7fff_fffe, 1, 0x7fff_ffff),
        ],
    ));
    v.extend(rrr_ov("add", add, &[(0x7fff_ffff, 1), (INT_MIN32, NEG1)]));
    v.extend(rrr(
        "subu",
        subu,
        &[
            (INT_MIN32, 1, 0x7fff_ffff),
            (0, 1, NEG1),
            (0x7fff_ffff, NEG1, INT_MIN32),
        ],
    ));
    v.extend(rrr(
        "sub",
        sub,
        &[(3, 5, NEG1 - 1), (INT_MIN32, INT_MIN32, 0)],
    ));
    v.extend(rrr_ov("sub", sub, &[(INT_MIN32, 1), (0x7fff_ffff, NEG1)]));
    v.extend(rrr(
        "daddu",
        daddu,
        &[
            (NEG1, 2, 1),
            (INT_MAX64, 1, INT_MIN64),
            (0x7fff_ffff, 1, 0x8000_0000),
        ],
    ));
    v.extend(rrr(
        "dadd",
        dadd,
        &[
            (0x7fff_ffff, 1, 0x8000_0000),
            (INT_MAX64 - 1, 1, INT_MAX64),
            (INT_MIN64, INT_MAX64, NEG1),
        ],
    ));
    v.extend(rrr_ov("dadd", dadd, &[(INT_MAX64, 1), (INT_MIN64, NEG1)]));
    v.extend(rrr(
        "dsubu",
        dsubu,
        &[
            (INT_MIN64, 1, INT_MAX64),
            (0, 1, NEG1),
            (0x1_0000_0000, 1, 0xffff_ffff),
        ],
    ));
    v.extend(rrr(
        "dsub",
        dsub,
        &[(5, 7, NEG1 - 1), (0, INT_MAX64, INT_MIN64 + 1)],
    ));
    v.extend(rrr_ov(
        "dsub",
        dsub,
        &[(INT_MIN64, 1), (0, INT_MIN64), (INT_MAX64, NEG1)],
    ));
    v.extend(rri(
        "addiu",
        addiu,
        &[
            (0x7fff_ffff, 1, INT_MIN32),
            (0, -32768, 0xffff_ffff_ffff_8000),
            (NEG1, 1, 0),
            (0x10, 32767, 0x800f),
        ],
    ));
    v.extend(rri(
        "addi",
        addi,
        &[
            (5, -6, NEG1),
            (0x7fff_0000, 0x7fff, 0x7fff_7fff),
            (INT_MIN32, 1, 0xffff_ffff_8000_0001),
        ],
    ));
    v.extend(rri_ov(
        "addi",
        addi,
        &[(0x7fff_ffff, 1), (INT_MIN32, -1), (0x7fff_8001, 0x7fff)],
    ));
    v.extend(rri(
        "daddiu",
        daddiu,
        &[
            (NEG1, 1, 0),
            (0, -1, NEG1),
            (0x7fff_ffff, 1, 0x8000_0000),
            (INT_MAX64, 1, INT_MIN64),
        ],
    ));
    v.extend(rri(
        "daddi",
        daddi,
        &[
            (0x7fff_ffff, 1, 0x8000_0000),
            (INT_MIN64, 1, INT_MIN64 + 1),
            (5, -32768, 0xffff_ffff_ffff_8005),
        ],
    ));
    v.extend(rri_ov("daddi", daddi, &[(INT_MAX64, 1), (INT_MIN64, -1)]));
    v
}

pub fn logic_compare_cases() -> Vec<Case> {
    let (x, y) = (0xff00_ff00_ff00_ff00, 0x0ff0_0ff0_0ff0_0ff0);
    let mut v = Vec::new();
    v.extend(rrr("and", and, &[(x, y, 0x0f00_0f00_0f00_0f00)]));
    v.extend(rrr("or", or, &[(x, y, 0xfff0_fff0_fff0_fff0)]));
    v.extend(rrr("xor", xor, &[(x, y, 0xf0f0_f0f0_f0f0_f0f0)]));
    v.extend(rrr(
        "nor",
        nor,
        &[(x, y, 0x000f_000f_000f_000f), (0, 0, NEG1)],
    ));
    v.extend(rrr(
        "slt",
        slt,
        &[
            (NEG1, 1, 1),
            (1, NEG1, 0),
            (INT_MIN64, INT_MAX64, 1),
            (7, 7, 0),
            (0x8000_0000, 1, 0),
        ],
    ));
    v.extend(rrr(
        "sltu",
        sltu,
        &[
            (NEG1, 1, 0),
            (1, NEG1, 1),
            (INT_MIN64, INT_MAX64, 0),
            (7, 7, 0),
            (0, 1, 1),
        ],
    ));
    v.extend(rri(
        "slti",
        slti,
        &[
            (NEG1 - 1, -1, 1),
            (0, -1, 0),
            (INT_MIN64, -32768, 1),
            (32766, 32767, 1),
            (32767, 32767, 0),
        ],
    ));
    // The immediate is sign-extended, then compared unsigned.
    v.extend(rri(
        "sltiu",
        sltiu,
        &[
            (5, -1, 1),
            (NEG1, -1, 0),
            (0xffff_ffff_ffff_7fff, -32768, 1),
            (0x8000, 0x7fff, 0),
            (0, 1, 1),
        ],
    ));
    v.extend(rru(
        "andi",
        andi,
        &[(NEG1, 0x8000, 0x8000), (0x1234_5678, 0xff0f, 0x5608)],
    ));
    v.extend(rru(
        "ori",
        ori,
        &[(0xffff_ffff_0000_0000, 0xffff, 0xffff_ffff_0000_ffff)],
    ));
    v.extend(rru(
        "xori",
        xori,
        &[
            (0x1234, 0xffff, 0xedcb),
            (NEG1, 0x00ff, 0xffff_ffff_ffff_ff00),
        ],
    ));
    for (imm, want) in [
        (0x8000, INT_MIN32),
        (0x7fff, 0x7fff_0000),
        (0xffff, 0xffff_ffff_ffff_0000),
    ] {
        v.push(Case::new(format!("lui {imm:#x}"), vec![lui(V0, imm)]).expect(V0, want));
    }
    for (cond, want) in [(0u64, 0x1111u64), (1, 0x2222)] {
        v.push(
            Case::new(format!("movz with rt {cond}"), vec![movz(V0, A0, A1)])
                .reg(V0, 0x2222)
                .reg(A0, 0x1111)
                .reg(A1, cond)
                .expect(V0, want),
        );
        let other = if want == 0x1111 { 0x2222 } else { 0x1111 };
        v.push(
            Case::new(format!("movn with rt {cond}"), vec![movn(V0, A0, A1)])
                .reg(V0, 0x2222)
                .reg(A0, 0x1111)
                .reg(A1, cond)
                .expect(V0, other),
        );
    }
    v.push(
        Case::new(
            "writes to $zero are discarded",
            vec![
                addiu(ZERO, ZERO, 5),
                lui(ZERO, 0x1234),
                lw(ZERO, 0, BUF),
                daddu(V0, ZERO, ZERO),
            ],
        )
        .mem(&[1, 2, 3, 4])
        .reg(V0, 9)
        .expect(V0, 0),
    );
    v
}

pub fn shift_cases() -> Vec<Case> {
    let p = 0x0123_4567_89ab_cdef;
    let mut v = Vec::new();
    // SLL sign-extends even an input that is not a sign-extended word.
    v.extend(shift(
        "sll",
        sll,
        &[
            (1, 31, INT_MIN32),
            (NEG1, 0, NEG1),
            (0x8000_0000, 0, INT_MIN32),
            (0x1234_5678_9abc_def0, 4, 0xffff_ffff_abcd_ef00),
        ],
    ));
    v.extend(shift(
        "srl",
        srl,
        &[
            (INT_MIN32, 31, 1),
            (INT_MIN32, 0, INT_MIN32),
            (NEG1, 1, 0x7fff_ffff),
        ],
    ));
    v.extend(shift(
        "sra",
        sra,
        &[
            (INT_MIN32, 31, NEG1),
            (0x7fff_ffff, 31, 0),
            (INT_MIN32, 4, 0xffff_ffff_f800_0000),
        ],
    ));
    v.extend(shift(
        "rotr",
        rotr,
        &[
            (0x1234_5678, 8, 0x7812_3456),
            (1, 1, INT_MIN32),
            (0xffff_ffff_8765_4321, 0, 0xffff_ffff_8765_4321),
            (1, 31, 2),
        ],
    ));
    v.extend(shift(
        "dsll",
        dsll,
        &[(1, 31, 0x8000_0000), (INT_MIN64 | 1, 1, 2), (p, 0, p)],
    ));
    v.extend(shift(
        "dsrl",
        dsrl,
        &[(INT_MIN64, 31, 0x1_0000_0000), (p, 0, p)],
    ));
    v.extend(shift(
        "dsra",
        dsra,
        &[
            (INT_MIN64, 31, 0xffff_ffff_0000_0000),
            (p, 4, 0x0012_3456_789a_bcde),
        ],
    ));
    v.extend(shift(
        "drotr",
        drotr,
        &[(p, 4, 0xf012_3456_789a_bcde), (p, 0, p)],
    ));
    v.extend(shift(
        "dsll32",
        dsll32,
        &[
            (1, 0, 0x1_0000_0000),
            (1, 31, INT_MIN64),
            (NEG1, 16, 0xffff_0000_0000_0000),
        ],
    ));
    v.extend(shift(
        "dsrl32",
        dsrl32,
        &[(INT_MIN64, 31, 1), (0xffff_ffff_0000_0000, 0, 0xffff_ffff)],
    ));
    v.extend(shift(
        "dsra32",
        dsra32,
        &[
            (INT_MIN64, 31, NEG1),
            (0xffff_ffff_0000_0000, 0, NEG1),
            (0x7fff_ffff_0000_0000, 0, 0x7fff_ffff),
        ],
    ));
    v.extend(shift(
        "drotr32",
        drotr32,
        &[
            (p, 0, 0x89ab_cdef_0123_4567),
            (p, 31, 0x0246_8acf_1357_9bde),
        ],
    ));
    // Variable shifts use the low 5 (word) or 6 (doubleword) bits of rs.
    v.extend(shiftv(
        "sllv",
        sllv,
        &[(1, 35, 8), (1, 31, INT_MIN32), (INT_MIN32, 32, INT_MIN32)],
    ));
    v.extend(shiftv(
        "srlv",
        srlv,
        &[
            (INT_MIN32, 32, INT_MIN32),
            (INT_MIN32, 4, 0x0800_0000),
            (NEG1, 31, 1),
        ],
    ));
    v.extend(shiftv(
        "srav",
        srav,
        &[
            (INT_MIN32, 4, 0xffff_ffff_f800_0000),
            (INT_MIN32, 33, 0xffff_ffff_c000_0000),
            (0x7fff_ffff, 63, 0),
        ],
    ));
    v.extend(shiftv(
        "rotrv",
        rotrv,
        &[
            (0x1234_5678, 36, 0xffff_ffff_8123_4567),
            (0x1234_5678, 32, 0x1234_5678),
        ],
    ));
    v.extend(shiftv(
        "dsllv",
        dsllv,
        &[(p, 64, p), (1, 63, INT_MIN64), (1, 32, 0x1_0000_0000)],
    ));
    v.extend(shiftv(
        "dsrlv",
        dsrlv,
        &[(INT_MIN64, 127, 1), (NEG1, 32, 0xffff_ffff)],
    ));
    v.extend(shiftv(
        "dsrav",
        dsrav,
        &[
            (INT_MIN64, 65, 0xc000_0000_0000_0000),
            (INT_MIN64, 63, NEG1),
        ],
    ));
    v.extend(shiftv(
        "drotrv",
        drotrv,
        &[
            (p, 68, 0xf012_3456_789a_bcde),
            (p, 32, 0x89ab_cdef_0123_4567),
        ],
    ));
    v
}

pub fn multiply_divide_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(hilo(
        "mult",
        mult,
        &[
            (0, 0, 0x7fff_ffff, 0x7fff_ffff, 0x3fff_ffff, 1),
            (0, 0, NEG1, 1, NEG1, NEG1),
            (0, 0, INT_MIN32, INT_MIN32, 0x4000_0000, 0),
            (0, 0, 0x1_0000, 0x8000, 0, INT_MIN32),
        ],
    ));
    v.extend(hilo(
        "multu",
        multu,
        &[
            (0, 0, NEG1, NEG1, NEG1 - 1, 1),
            (0, 0, 2, INT_MIN32, 1, 0),
            (0, 0, 0x1_0000, 0x8000, 0, INT_MIN32),
        ],
    ));
    v.extend(hilo(
        "div",
        div,
        &[
            (0, 0, 7, NEG1 - 1, 1, NEG1 - 2),
            (0, 0, NEG1 - 6, 2, NEG1, NEG1 - 2),
            (0, 0, 100, 7, 2, 14),
            (0, 0, INT_MIN32, NEG1, 0, INT_MIN32),
        ],
    ));
    v.extend(hilo(
        "divu",
        divu,
        &[
            (0, 0, NEG1, 2, 1, 0x7fff_ffff),
            (0, 0, INT_MIN32, NEG1, INT_MIN32, 0),
            (0, 0, 100, 7, 2, 14),
        ],
    ));
    v.extend(hilo(
        "dmult",
        dmult,
        &[
            (0, 0, INT_MAX64, 2, 0, NEG1 - 1),
            (0, 0, NEG1, NEG1, 0, 1),
            (0, 0, INT_MIN64, INT_MIN64, 0x4000_0000_0000_0000, 0),
            (0, 0, NEG1 - 1, 3, NEG1, NEG1 - 5),
        ],
    ));
    v.extend(hilo(
        "dmultu",
        dmultu,
        &[
            (0, 0, NEG1, NEG1, NEG1 - 1, 1),
            (0, 0, 0x1_0000_0000, 0x1_0000_0000, 1, 0),
        ],
    ));
    v.extend(hilo(
        "ddiv",
        ddiv,
        &[
            (0, 0, INT_MIN64, NEG1, 0, INT_MIN64),
            (0, 0, NEG1 - 6, 2, NEG1, NEG1 - 2),
            (0, 0, INT_MAX64, 0x1_0000_0000, 0xffff_ffff, 0x7fff_ffff),
        ],
    ));
    v.extend(hilo(
        "ddivu",
        ddivu,
        &[
            (0, 0, NEG1, 0x1_0000_0000, 0xffff_ffff, 0xffff_ffff),
            (0, 0, INT_MIN64, 3, 2, 0x2aaa_aaaa_aaaa_aaaa),
        ],
    ));
    // Accumulating forms: HI:LO is a 64-bit value made of two sign-extended words.
    v.extend(hilo(
        "madd",
        madd,
        &[
            (0, NEG1, 1, 1, 1, 0),
            (0x7fff_ffff, NEG1, 1, 1, INT_MIN32, 0),
            (0, 5, NEG1 - 1, 3, NEG1, NEG1),
        ],
    ));
    v.extend(hilo(
        "maddu",
        maddu,
        &[(0, 0, NEG1, NEG1, NEG1 - 1, 1), (NEG1, NEG1, 1, 1, 0, 0)],
    ));
    v.extend(hilo(
        "msub",
        msub,
        &[(0, 0, 2, 3, NEG1, NEG1 - 5), (0, 0x10, NEG1, 4, 0, 0x14)],
    ));
    v.extend(hilo(
        "msubu",
        msubu,
        &[(0, 0, NEG1, 1, NEG1, 1), (0, 10, 2, 3, 0, 4)],
    ));
    v.extend(rrr(
        "mul",
        mul,
        &[
            (0x7fff_ffff, 2, NEG1 - 1),
            (NEG1 - 2, 5, NEG1 - 14),
            (0x1_0000, 0x1_0000, 0),
        ],
    ));
    v.push(
        Case::new(
            "mthi/mtlo/mfhi/mflo",
            vec![mthi(A0), mtlo(A1), mfhi(V0), mflo(V1)],
        )
        .reg(A0, 0x1111_2222_3333_4444)
        .reg(A1, 0x5555_6666_7777_8888)
        .expect(V0, 0x1111_2222_3333_4444)
        .expect(V1, 0x5555_6666_7777_8888),
    );
    v
}

pub fn count_bits_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(unary(
        "clz",
        clz,
        &[(0, 32), (1, 31), (INT_MIN32, 0), (0xffff, 16)],
    ));
    v.extend(unary(
        "clo",
        clo,
        &[
            (NEG1, 32),
            (0xffff_ffff_ffff_0000, 16),
            (0, 0),
            (INT_MIN32, 1),
        ],
    ));
    v.extend(unary(
        "dclz",
        dclz,
        &[(0, 64), (1, 63), (0x8000_0000, 32), (INT_MIN64, 0)],
    ));
    v.extend(unary(
        "dclo",
        dclo,
        &[
            (NEG1, 64),
            (0xffff_ffff_0000_0000, 32),
            (INT_MAX64, 0),
            (NEG1 - 1, 63),
        ],
    ));
    v
}

pub fn bitfield_cases() -> Vec<Case> {
    let p = 0x0123_4567_89ab_cdef;
    let q = 0xfedc_ba98_7654_3210;
    let ones = NEG1;
    let base = 0x1111_1111_1111_1111;
    let mut v = Vec::new();
    v.extend(field(
        "ext",
        ext,
        &[
            (0, p, 0, 32, 0xffff_ffff_89ab_cdef),
            (0, p, 4, 8, 0xde),
            (0, p, 31, 1, 1),
            (0, p, 0, 1, 1),
            (0, p, 16, 16, 0x89ab),
        ],
    ));
    v.extend(field(
        "dext",
        dext,
        &[
            (0, p, 0, 32, 0x89ab_cdef),
            (0, p, 28, 8, 0x78),
            (0, p, 31, 1, 1),
            (0, p, 31, 32, 0x0246_8acf),
        ],
    ));
    v.extend(field(
        "dextm",
        dextm,
        &[
            (0, p, 0, 64, p),
            (0, p, 4, 36, 0x6_789a_bcde),
            (0, p, 31, 33, 0x0246_8acf),
        ],
    ));
    v.extend(field(
        "dextu",
        dextu,
        &[
            (0, q, 32, 32, 0xfedc_ba98),
            (0, q, 60, 4, 0xf),
            (0, q, 63, 1, 1),
            (0, q, 40, 8, 0xba),
        ],
    ));
    v.extend(field(
        "ins",
        ins,
        &[
            (0x1234_5678, 0xabcd, 8, 8, 0x1234_cd78),
            (0x1234_5678, 0xabcd, 0, 32, 0xabcd),
            (0x1234_5678, 1, 31, 1, 0xffff_ffff_9234_5678),
            (ones, 0, 0, 1, NEG1 - 1),
        ],
    ));
    v.extend(field(
        "dins",
        dins,
        &[
            (base, ones, 4, 8, 0x1111_1111_1111_1ff1),
            (base, ones, 0, 32, 0x1111_1111_ffff_ffff),
            (base, ones, 31, 1, 0x1111_1111_9111_1111),
        ],
    ));
    v.extend(field(
        "dinsm",
        dinsm,
        &[
            (base, ones, 16, 32, 0x1111_ffff_ffff_1111),
            (base, ones, 0, 64, ones),
            (base, ones, 31, 33, 0xffff_ffff_9111_1111),
        ],
    ));
    v.extend(field(
        "dinsu",
        dinsu,
        &[
            (base, ones, 32, 32, 0xffff_ffff_1111_1111),
            (base, ones, 63, 1, 0x9111_1111_1111_1111),
            (base, ones, 40, 8, 0x1111_ff11_1111_1111),
        ],
    ));
    v.extend(unary(
        "wsbh",
        wsbh,
        &[
            (0x1122_3344, 0x2211_4433),
            (0xffff_ffff_8899_aabb, 0xffff_ffff_9988_bbaa),
            (0x11_0080, 0x1100_8000),
        ],
    ));
    v.extend(unary(
        "seb",
        seb,
        &[(0x80, 0xffff_ffff_ffff_ff80), (0x1234_567f, 0x7f)],
    ));
    v.extend(unary(
        "seh",
        seh,
        &[
            (0x8000, 0xffff_ffff_ffff_8000),
            (0x7fff, 0x7fff),
            (0xffff_ffff_1234_5678, 0x5678),
        ],
    ));
    v.extend(unary(
        "dsbh",
        dsbh,
        &[(0x0011_2233_4455_6677, 0x1100_3322_5544_7766)],
    ));
    v.extend(unary(
        "dshd",
        dshd,
        &[(0x0011_2233_4455_6677, 0x6677_4455_2233_0011)],
    ));
    v
}

/// The buffer used by aligned load cases: byte i holds 0x7e + i.
fn ramp() -> [u8; BUF_LEN] {
    std::array::from_fn(|i| 0x7e + i as u8)
}

/// The buffer used by unaligned cases: bytes 0x00, 0x11, ..., 0xff, then 0.
fn nibbles() -> Vec<u8> {
    (0..16u8).map(|i| i * 0x11).collect()
}

pub fn load_store_cases() -> Vec<Case> {
    let loads: &[(&str, MemOp, i16, u64)] = &[
        ("lb", lb, 0, 0x7e),
        ("lb", lb, 2, 0xffff_ffff_ffff_ff80),
        ("lbu", lbu, 2, 0x80),
        ("lh", lh, 0, 0x7f7e),
        ("lh", lh, 2, 0xffff_ffff_ffff_8180),
        ("lhu", lhu, 2, 0x8180),
        ("lw", lw, 0, 0xffff_ffff_8180_7f7e),
        ("lwu", lwu, 0, 0x8180_7f7e),
        ("lw", lw, 4, 0xffff_ffff_8584_8382),
        ("ld", ld, 0, 0x8584_8382_8180_7f7e),
        ("ld", ld, 8, 0x8d8c_8b8a_8988_8786),
    ];
    let mut v = Vec::new();
    for &(name, op, off, want) in loads {
        v.push(
            Case::new(format!("{name} {off}(buf)"), vec![op(V0, off, BUF)])
                .mem(&ramp())
                .expect(V0, want),
        );
    }
    v.push(
        Case::new("lw of a positive word", vec![lw(V0, 0, BUF)])
            .mem(&[0x78, 0x56, 0x34, 0x12])
            .expect(V0, 0x1234_5678),
    );
    v.push(
        Case::new(
            "ld with a negative offset",
            vec![daddiu(A0, BUF, 16), ld(V0, -8, A0)],
        )
        .mem(&ramp())
        .expect(V0, 0x8d8c_8b8a_8988_8786),
    );
    let x = 0x1234_5678_9abc_def0u64;
    let stores: &[(&str, MemOp, usize, &[u8])] = &[
        ("sb", sb, 3, &[0xf0]),
        ("sh", sh, 2, &[0xf0, 0xde]),
        ("sw", sw, 4, &[0xf0, 0xde, 0xbc, 0x9a]),
        (
            "sd",
            sd,
            8,
            &[0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12],
        ),
    ];
    for &(name, op, off, bytes) in stores {
        v.push(
            Case::new(format!("{name} {off}(buf)"), vec![op(A0, off as i16, BUF)])
                .mem(&ramp())
                .reg(A0, x)
                .expect_mem_at(off, bytes),
        );
    }
    // Misaligned accesses raise address errors and change nothing.
    let misaligned_loads: &[(&str, MemOp, i16)] = &[
        ("lh", lh, 1),
        ("lhu", lhu, 3),
        ("lw", lw, 2),
        ("lwu", lwu, 1),
        ("ld", ld, 4),
        ("ll", ll, 2),
        ("lld", lld, 4),
    ];
    for &(name, op, off) in misaligned_loads {
        v.push(
            Case::new(
                format!("misaligned {name} {off}(buf)"),
                vec![op(V0, off, BUF)],
            )
            .reg(V0, UNTOUCHED)
            .raises(ExcCode::AdEL)
            .expect(V0, UNTOUCHED),
        );
    }
    let misaligned_stores: &[(&str, MemOp, i16)] = &[("sh", sh, 1), ("sw", sw, 2), ("sd", sd, 4)];
    for &(name, op, off) in misaligned_stores {
        v.push(
            Case::new(
                format!("misaligned {name} {off}(buf)"),
                vec![op(A0, off, BUF)],
            )
            .mem(&ramp())
            .reg(A0, x)
            .raises(ExcCode::AdES)
            .expect(A0, x)
            .expect_mem_unchanged(),
        );
    }
    v
}

/// LWL/LWR/LDL/LDR/SWL/SWR/SDL/SDR at every byte offset, with expected values
/// built from the little-endian definitions in the manual: the "left"
/// instructions move the bytes from the aligned word/doubleword start up to
/// the addressed byte into the most significant end of the register, the
/// "right" ones move the bytes from the addressed byte to the end into the
/// least significant end.
pub fn unaligned_cases() -> Vec<Case> {
    let mem = nibbles();
    let rt32 = 0x5152_5354u64;
    let rt64 = 0x0102_0304_0506_0708u64;
    let mut v = Vec::new();
    for (aligned, size) in [(4usize, 4usize), (8, 4), (8, 8)] {
        for b in 0..size {
            let addr = (aligned + b) as i16;
            let rt = if size == 4 { rt32 } else { rt64 };
            let mut left = rt.to_le_bytes();
            let mut right = rt.to_le_bytes();
            for k in 0..=b {
                left[size - 1 - k] = mem[aligned + b - k];
            }
            for k in 0..size - b {
                right[k] = mem[aligned + b + k];
            }
            let (lname, lop, rname, rop): (&str, MemOp, &str, MemOp) = if size == 4 {
                ("lwl", lwl, "lwr", lwr)
            } else {
                ("ldl", ldl, "ldr", ldr)
            };
            let fix = |bytes: [u8; 8]| {
                let x = u64::from_le_bytes(bytes);
                if size == 4 {
                    x as u32 as i32 as i64 as u64
                } else {
                    x
                }
            };
            v.push(
                Case::new(format!("{lname} {addr}(buf)"), vec![lop(V0, addr, BUF)])
                    .mem(&mem)
                    .reg(V0, rt)
                    .expect(V0, fix(left)),
            );
            v.push(
                Case::new(format!("{rname} {addr}(buf)"), vec![rop(V0, addr, BUF)])
                    .mem(&mem)
                    .reg(V0, rt)
                    .expect(V0, fix(right)),
            );
        }
    }
    let rt_store = 0x1122_3344_a1a2_a3a4u64;
    for (size, aligned) in [(4usize, 4usize), (8, 8)] {
        let rtb = rt_store.to_le_bytes();
        for b in 0..size {
            let addr = aligned + b;
            let (lname, lop, rname, rop): (&str, MemOp, &str, MemOp) = if size == 4 {
                ("swl", swl, "swr", swr)
            } else {
                ("sdl", sdl, "sdr", sdr)
            };
            // Left: bytes aligned..=addr receive the top b+1 register bytes.
            let left: Vec<u8> = (0..=b).map(|k| rtb[size - 1 - b + k]).collect();
            // Right: bytes addr..aligned+size receive the low size-b bytes.
            let right: Vec<u8> = rtb[..size - b].to_vec();
            v.push(
                Case::new(
                    format!("{lname} {addr}(buf)"),
                    vec![lop(A0, addr as i16, BUF)],
                )
                .mem(&mem)
                .reg(A0, rt_store)
                .expect_mem_at(aligned, &left),
            );
            v.push(
                Case::new(
                    format!("{rname} {addr}(buf)"),
                    vec![rop(A0, addr as i16, BUF)],
                )
                .mem(&mem)
                .reg(A0, rt_store)
                .expect_mem_at(addr, &right),
            );
        }
    }
    // Spot checks written out by hand, and the usual unaligned pairs.
    v.push(
        Case::new("lwl 8(buf) sign-extends", vec![lwl(V0, 8, BUF)])
            .mem(&mem)
            .reg(V0, rt32)
            .expect(V0, 0xffff_ffff_8852_5354),
    );
    v.push(
        Case::new("lwr 9(buf)", vec![lwr(V0, 9, BUF)])
            .mem(&mem)
            .reg(V0, rt32)
            .expect(V0, 0x51bb_aa99),
    );
    v.push(
        Case::new("ldl 12(buf)", vec![ldl(V0, 12, BUF)])
            .mem(&mem)
            .reg(V0, rt64)
            .expect(V0, 0xccbb_aa99_8806_0708),
    );
    v.push(
        Case::new("ldr 10(buf)", vec![ldr(V0, 10, BUF)])
            .mem(&mem)
            .reg(V0, rt64)
            .expect(V0, 0x0102_ffee_ddcc_bbaa),
    );
    v.push(
        Case::new(
            "lwl/lwr pair loads an unaligned word",
            vec![lwl(V0, 4, BUF), lwr(V0, 1, BUF)],
        )
        .mem(&mem)
        .expect(V0, 0x4433_2211),
    );
    v.push(
        Case::new(
            "ldl/ldr pair loads an unaligned doubleword",
            vec![ldl(V0, 10, BUF), ldr(V0, 3, BUF)],
        )
        .mem(&mem)
        .expect(V0, 0xaa99_8877_6655_4433),
    );
    v.push(
        Case::new(
            "swl/swr pair stores an unaligned word",
            vec![swl(A0, 4, BUF), swr(A0, 1, BUF)],
        )
        .mem(&mem)
        .reg(A0, rt_store)
        .expect_mem_at(1, &[0xa4, 0xa3, 0xa2, 0xa1]),
    );
    v.push(
        Case::new(
            "sdl/sdr pair stores an unaligned doubleword",
            vec![sdl(A0, 12, BUF), sdr(A0, 5, BUF)],
        )
        .mem(&mem)
        .reg(A0, rt_store)
        .expect_mem_at(5, &rt_store.to_le_bytes()),
    );
    v
}

pub fn ll_sc_cases() -> Vec<Case> {
    let word = [0x10, 0, 0, 0];
    let dword = [0x10, 0, 0, 0, 0, 0, 0, 0x80];
    vec![
        Case::new(
            "ll/sc succeeds and stores",
            vec![
                ll(V0, 0, BUF),
                addiu(V0, V0, 1),
                sc(V0, 0, BUF),
                lw(V1, 0, BUF),
            ],
        )
        .mem(&word)
        .expect(V0, 1)
        .expect(V1, 0x11),
        Case::new("ll sign-extends", vec![ll(V0, 4, BUF)])
            .mem(&[0, 0, 0, 0, 0, 0, 0, 0x80])
            .expect(V0, INT_MIN32),
        Case::new(
            "sc fails after an intervening store of a different value",
            vec![
                ll(V0, 0, BUF),
                sw(T0, 0, BUF),
                addiu(V0, V0, 1),
                sc(V0, 0, BUF),
                lw(V1, 0, BUF),
            ],
        )
        .mem(&word)
        .reg(T0, 0x99)
        .expect(V0, 0)
        .expect(V1, 0x99),
        Case::new(
            "sc to another address than ll fails",
            vec![
                ll(V0, 0, BUF),
                addiu(V0, ZERO, 7),
                sc(V0, 4, BUF),
                lw(V1, 4, BUF),
            ],
        )
        .mem(&word)
        .expect(V0, 0)
        .expect(V1, 0),
        Case::new(
            "lld/scd succeeds and stores",
            vec![
                lld(V0, 0, BUF),
                daddiu(V0, V0, 1),
                scd(V0, 0, BUF),
                ld(V1, 0, BUF),
            ],
        )
        .mem(&dword)
        .expect(V0, 1)
        .expect(V1, 0x8000_0000_0000_0011),
        Case::new(
            "scd fails after an intervening store of a different value",
            vec![
                lld(V0, 0, BUF),
                sd(T0, 0, BUF),
                scd(V0, 0, BUF),
                ld(V1, 0, BUF),
            ],
        )
        .mem(&dword)
        .reg(T0, 0x42)
        .expect(V0, 0)
        .expect(V1, 0x42),
    ]
}

/// A conditional branch with offset +2 at offset 0, a delay slot that
/// increments v0, a fall-through instruction that increments v1 and the
/// target that increments t0.
fn branch_case(
    name: &str,
    word: u32,
    a: u64,
    b: u64,
    taken: bool,
    likely: bool,
    link: bool,
) -> Case {
    let code = vec![word, addiu(V0, V0, 1), addiu(V1, V1, 1), addiu(T0, T0, 1)];
    let slot = if likely && !taken { 0 } else { 1 };
    let mut c = Case::new(
        format!(
            "{name} a0={a:#x} a1={b:#x} {}",
            if taken { "taken" } else { "not taken" }
        ),
        code,
    )
    .reg(A0, a)
    .reg(A1, b)
    .reg(RA, 0x77)
    .expect(V0, slot)
    .expect(V1, (!taken) as u64)
    .expect(T0, 1);
    c = if link {
        c.expect_code(RA, 8)
    } else {
        c.expect(RA, 0x77)
    };
    c
}

pub fn branch_cases() -> Vec<Case> {
    type Cond = fn(i64, i64) -> bool;
    type Two = fn(u8, u8, i16) -> u32;
    type One = fn(u8, i16) -> u32;
    let two: &[(&str, Two, Cond, bool)] = &[
        ("beq", beq, |a, b| a == b, false),
        ("bne", bne, |a, b| a != b, false),
        ("beql", beql, |a, b| a == b, true),
        ("bnel", bnel, |a, b| a != b, true),
    ];
    // (name, encoder, condition on a0, likely, links)
    type Cond1 = fn(i64) -> bool;
    let one: &[(&str, One, Cond1, bool, bool)] = &[
        ("blez", blez, |a| a <= 0, false, false),
        ("bgtz", bgtz, |a| a > 0, false, false),
        ("bltz", bltz, |a| a < 0, false, false),
        ("bgez", bgez, |a| a >= 0, false, false),
        ("bltzal", bltzal, |a| a < 0, false, true),
        ("bgezal", bgezal, |a| a >= 0, false, true),
        ("blezl", blezl, |a| a <= 0, true, false),
        ("bgtzl", bgtzl, |a| a > 0, true, false),
        ("bltzl", bltzl, |a| a < 0, true, false),
        ("bgezl", bgezl, |a| a >= 0, true, false),
        ("bltzall", bltzall, |a| a < 0, true, true),
        ("bgezall", bgezall, |a| a >= 0, true, true),
    ];
    let values = [0u64, 1, NEG1, INT_MIN64, 0x8000_0000, INT_MIN32];
    let mut v = Vec::new();
    for &(name, op, cond, likely) in two {
        for (a, b) in [(5u64, 5u64), (5, 6), (0x1_0000_0005, 5), (NEG1, NEG1)] {
            let taken = cond(a as i64, b as i64);
            v.push(branch_case(name, op(A0, A1, 2), a, b, taken, likely, false));
        }
    }
    for &(name, op, cond, likely, link) in one {
        for a in values {
            v.push(branch_case(
                name,
                op(A0, 2),
                a,
                0,
                cond(a as i64),
                likely,
                link,
            ));
        }
    }
    v.push(
        Case::new(
            "backward bne loop runs its delay slot every iteration",
            vec![addiu(A0, A0, -1), bne(A0, ZERO, -2), addiu(V0, V0, 1)],
        )
        .reg(A0, 5)
        .expect(A0, 0)
        .expect(V0, 5),
    );
    // bal to get the code address, then jumps through registers.
    let to_reg = |jump: u32, name: &str| {
        Case::new(
            name,
            vec![
                bal(1),
                NOP,
                daddiu(T9, RA, 16), // T9 = code + 24
                jump,
                addiu(V0, V0, 1),
                addiu(V1, V1, 1),
                addiu(T0, T0, 1),
            ],
        )
        .expect(V0, 1)
        .expect(V1, 0)
        .expect(T0, 1)
    };
    v.push(
        to_reg(jr(T9), "jr runs its delay slot")
            .expect_code(RA, 8)
            .expect_code(T9, 24),
    );
    v.push(to_reg(jr_hb(T9), "jr.hb runs its delay slot").expect_code(T9, 24));
    v.push(to_reg(jalr(RA, T9), "jalr links the return address").expect_code(RA, 20));
    v.push(
        to_reg(jalr(T9, T9), "jalr with rd = rs jumps to the old value")
            .expect_code(T9, 20)
            .expect_code(RA, 8),
    );
    v.push(
        Case::new(
            "bal links even with a nop delay slot",
            vec![bal(1), NOP, NOP],
        )
        .expect_code(RA, 8),
    );
    v
}

pub fn trap_cases() -> Vec<Case> {
    type Rr = fn(u8, u8, u16) -> u32;
    type Ri = fn(u8, i16) -> u32;
    let rr: &[(&str, Rr, u64, u64, bool)] = &[
        ("teq", teq, 5, 5, true),
        ("teq", teq, 5, 6, false),
        ("tne", tne, 5, 6, true),
        ("tne", tne, 5, 5, false),
        ("tge", tge, 1, NEG1, true),
        ("tge", tge, NEG1, 1, false),
        ("tgeu", tgeu, NEG1, 1, true),
        ("tgeu", tgeu, 1, NEG1, false),
        ("tlt", tlt, NEG1, 1, true),
        ("tlt", tlt, 1, 1, false),
        ("tltu", tltu, 1, NEG1, true),
        ("tltu", tltu, NEG1, 1, false),
    ];
    let ri: &[(&str, Ri, u64, i16, bool)] = &[
        ("teqi", teqi, NEG1, -1, true),
        ("teqi", teqi, 0xffff, -1, false),
        ("tnei", tnei, 5, 5, false),
        ("tnei", tnei, 5, 6, true),
        ("tgei", tgei, 0, -1, true),
        ("tgei", tgei, NEG1 - 1, -1, false),
        ("tgeiu", tgeiu, 5, -1, false),
        ("tgeiu", tgeiu, NEG1, -1, true),
        ("tlti", tlti, NEG1 - 4, -4, true),
        ("tlti", tlti, 0, -4, false),
        ("tltiu", tltiu, 5, -1, true),
        ("tltiu", tltiu, NEG1, -1, false),
    ];
    let case = |name: String, word: u32, a: u64, b: u64, traps: bool| {
        let c = Case::new(name, vec![word, addiu(V0, ZERO, 1)])
            .reg(A0, a)
            .reg(A1, b);
        if traps {
            c.raises(ExcCode::Tr).expect(V0, 0)
        } else {
            c.expect(V0, 1)
        }
    };
    let mut v = Vec::new();
    for &(name, op, a, b, traps) in rr {
        v.push(case(
            format!("{name} {a:#x}, {b:#x}"),
            op(A0, A1, 0),
            a,
            b,
            traps,
        ));
    }
    for &(name, op, a, imm, traps) in ri {
        v.push(case(
            format!("{name} {a:#x}, {imm}"),
            op(A0, imm),
            a,
            0,
            traps,
        ));
    }
    v
}

pub fn misc_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (name, word) in [
        ("sync", sync(0)),
        ("sync 0x10", sync(0x10)),
        ("synci", synci(0, BUF)),
        ("pref", pref(0, 0, BUF)),
        ("ehb", EHB),
    ] {
        v.push(
            Case::new(
                format!("{name} has no register effect"),
                vec![word, addiu(V0, ZERO, 1)],
            )
            .reg(A0, 3)
            .expect(V0, 1)
            .expect(A0, 3)
            .expect_mem_unchanged(),
        );
    }
    for word in [0x7000_0003u32, 0xec00_0000, 0x0000_0035, 0x7c00_0027] {
        v.push(
            Case::new(
                format!("reserved encoding {word:#010x}"),
                vec![word, addiu(V0, ZERO, 1)],
            )
            .raises(ExcCode::Ri)
            .expect(V0, 0),
        );
    }
    v
}

/// Every shared case, by group.
pub fn groups() -> Vec<(&'static str, Vec<Case>)> {
    vec![
        ("add/sub", add_sub_cases()),
        ("logic/compare", logic_compare_cases()),
        ("shift", shift_cases()),
        ("multiply/divide", multiply_divide_cases()),
        ("count bits", count_bits_cases()),
        ("bit field", bitfield_cases()),
        ("load/store", load_store_cases()),
        ("unaligned", unaligned_cases()),
        ("ll/sc", ll_sc_cases()),
        ("branch", branch_cases()),
        ("trap", trap_cases()),
        ("misc", misc_cases()),
    ]
}

/// Machine state after a case ran.
#[derive(Clone, Debug)]
pub struct State {
    pub regs: [u64; 32],
    pub hi: u64,
    pub lo: u64,
    pub mem: [u8; BUF_LEN],
    /// Address of the case's first instruction.
    pub code_base: u64,
}

/// What a run of a case produced: the exception it ended with (if any) and,
/// when the runner can see it, the final state.
#[derive(Clone, Debug)]
pub struct Observed {
    pub exception: Option<ExcCode>,
    pub state: Option<State>,
}

/// Compares an observed run with the case's expectations.
pub fn check(c: &Case, obs: &Observed) -> Result<(), String> {
    let mut errors = Vec::new();
    if obs.exception != c.exception {
        errors.push(format!(
            "exception {:?}, expected {:?}",
            obs.exception, c.exception
        ));
    }
    if let Some(s) = &obs.state {
        for &(r, want) in &c.regs {
            let want = match want {
                Val::Abs(v) => v,
                Val::Code(off) => s.code_base + off,
            };
            if s.regs[r as usize] != want {
                errors.push(format!(
                    "${r} = {:#x}, expected {want:#x}",
                    s.regs[r as usize]
                ));
            }
        }
        if let Some((hi, lo)) = c.hilo {
            if (s.hi, s.lo) != (hi, lo) {
                errors.push(format!(
                    "hi:lo = {:#x}:{:#x}, expected {hi:#x}:{lo:#x}",
                    s.hi, s.lo
                ));
            }
        }
        if let Some(mem) = &c.mem_out {
            if s.mem != *mem {
                errors.push(format!(
                    "buffer {:02x?}, expected {:02x?}",
                    &s.mem[..16],
                    &mem[..16]
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", c.name, errors.join("; ")))
    }
}

/// Runs a case on our CPU in kernel mode (native delivery) and returns what
/// it did. The case runs from [`CODE`](super::harness::CODE) with the buffer at
/// [`DATA`](super::harness::DATA), and ends at the sentinel `break` or at the
/// first exception.
pub fn run_on_cpu(c: &Case) -> Observed {
    use super::harness::{is_sentinel, Machine, CODE, DATA};
    let mut m = Machine::new();
    m.program(&c.code);
    m.poke(DATA, &c.mem);
    m.set(BUF, DATA);
    for &(r, v) in &c.init {
        m.set(r, v);
    }
    (m.cpu.hi, m.cpu.lo) = c.init_hilo;
    let t = m.run_to_trap();
    let exception = if is_sentinel(&t) {
        None
    } else {
        Some(t.exception.code)
    };
    Observed {
        exception,
        state: Some(State {
            regs: m.cpu.gpr,
            hi: m.cpu.hi,
            lo: m.cpu.lo,
            mem: m.peek(DATA, BUF_LEN).try_into().unwrap(),
            code_base: CODE,
        }),
    }
}

/// [`run_on_cpu`] for [`check_all`].
pub fn on_cpu(c: &Case) -> Result<Observed, String> {
    Ok(run_on_cpu(c))
}

/// Runs every case through `run` and returns the mismatches.
pub fn failures(cases: &[Case], run: impl Fn(&Case) -> Result<Observed, String>) -> Vec<String> {
    cases
        .iter()
        .filter_map(|c| run(c).and_then(|obs| check(c, &obs)).err())
        .collect()
}

/// Runs every case of a group through `run`, and panics listing every
/// mismatch.
pub fn check_all(group: &str, cases: &[Case], run: impl Fn(&Case) -> Result<Observed, String>) {
    assert!(!cases.is_empty(), "group {group} has no cases");
    let failures = failures(cases, run);
    assert!(
        failures.is_empty(),
        "{} of {} {group} cases failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}
