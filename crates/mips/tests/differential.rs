//! Differential tests against QEMU user mode (`qemu-mips64el -cpu
//! MIPS64R2-generic`) and the GNU assembler:
//!
//! * the guest programs in `tests/guest/` (built by
//!   `scripts/build-guest-tests.sh` into `target/guest-tests/`) run under QEMU
//!   and on our CPU under the mini user-mode OS of `common/userland.rs`; their
//!   standard output and exit status must be identical;
//! * the hand-derived expectations of the instruction tables
//!   (`common/cases.rs`) must agree with QEMU;
//! * the test encoder (`common/asm.rs`) must agree with the GNU assembler.
//!
//! These tests need `gcc-mips64el-linux-gnuabi64` and `qemu-user`, and fail
//! (never skip) when they are missing.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::asm::*;
use common::cases;
use common::elf::Elf;
use common::qemu;
use common::userland::Process;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Scratch directory for generated files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds the guest programs once per test run; returns their directory.
fn guest_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = Path::new(WORKSPACE).join("scripts/build-guest-tests.sh");
        let out = Command::new("sh")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed (the differential tests need gcc-mips64el-linux-gnuabi64):\n{}{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Path::new(WORKSPACE).join("target/guest-tests")
    })
}

/// Cycle budget for one guest program on our CPU.
const MAX_CYCLES: u64 = 2_000_000_000;

/// Runs guest program `name` under QEMU and on our CPU, and compares;
/// returns what the user-mode OS did.
fn matches_qemu(name: &str) -> common::userland::OsStats {
    let exe = guest_dir().join(name);
    let expected = qemu::run(&exe);
    assert!(
        expected.status.signal().is_none() && expected.stderr.is_empty(),
        "{name} misbehaves under QEMU itself: {} {}",
        expected.status,
        String::from_utf8_lossy(&expected.stderr)
    );
    let want_status = expected.status.code().expect("exit status");

    let image = std::fs::read(&exe).unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    let elf = Elf::parse(&image).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut p = Process::load(&elf);
    let status = p.run(MAX_CYCLES);
    let status = status.unwrap_or_else(|e| {
        panic!(
            "{name} failed on our CPU: {e}\noutput so far:\n{}",
            String::from_utf8_lossy(&p.stdout)
        )
    });
    assert!(
        p.stderr.is_empty(),
        "{name} wrote to stderr: {:?}",
        p.stderr
    );
    if p.stdout != expected.stdout {
        let ours = String::from_utf8_lossy(&p.stdout);
        let theirs = String::from_utf8_lossy(&expected.stdout);
        let first = ours
            .lines()
            .zip(theirs.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(ours.lines().count().min(theirs.lines().count()));
        panic!(
            "{name}: output differs from QEMU at line {}:\n  ours: {:?}\n  qemu: {:?}\n\
             ({} vs {} bytes)",
            first + 1,
            ours.lines().nth(first),
            theirs.lines().nth(first),
            p.stdout.len(),
            expected.stdout.len()
        );
    }
    assert_eq!(status, want_status, "{name}: exit status differs from QEMU");
    assert!(
        p.stats.syscalls >= 2 && p.stats.tlb_faults > 0,
        "{name}: {:?}",
        p.stats
    );
    p.stats
}

#[test]
fn integer_arithmetic_program_matches_qemu() {
    assert_eq!(matches_qemu("arith").fpu_enables, 0);
}

#[test]
fn unaligned_access_program_matches_qemu() {
    matches_qemu("unaligned");
}

#[test]
fn bit_manipulation_program_matches_qemu() {
    matches_qemu("bits");
}

#[test]
fn atomics_program_matches_qemu() {
    matches_qemu("llsc");
}

#[test]
fn floating_point_program_matches_qemu() {
    // The OS enables CP1 lazily, on the first Coprocessor Unusable trap.
    assert_eq!(matches_qemu("fpu").fpu_enables, 1);
}

#[test]
fn string_routines_program_matches_qemu() {
    matches_qemu("strings");
}

#[test]
fn sort_hash_crc_workload_matches_qemu_including_exit_status() {
    matches_qemu("workload");
}

#[test]
fn hand_written_delay_slot_program_matches_qemu() {
    matches_qemu("delay");
}

/// The programs the tests above run, to catch a new guest program nobody
/// runs.
const PROGRAMS: &[&str] = &[
    "arith",
    "bits",
    "delay",
    "fpu",
    "llsc",
    "strings",
    "unaligned",
    "workload",
];

#[test]
fn every_guest_program_has_a_test() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guest");
    let mut found: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let ext = path.extension()?.to_str()?;
            matches!(ext, "c" | "S")
                .then(|| path.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    found.sort();
    assert_eq!(found, PROGRAMS);
}

#[test]
fn instruction_case_expectations_agree_with_qemu() {
    let dir = scratch("qemu-cases");
    let mut total = 0;
    let mut bad = Vec::new();
    for (group, cases) in cases::groups() {
        total += cases.len();
        for f in cases::failures(&cases, |c| qemu::run_case(c, &dir)) {
            bad.push(format!("[{group}] {f}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {total} expectations disagree with QEMU:\n  {}",
        bad.len(),
        bad.join("\n  ")
    );
}

/// Every encoder of `common/asm.rs`, with the GNU assembler syntax it must
/// match. Branch targets are written relative to `.` (offset n is `.+4(n+1)`).
fn encoder_pairs() -> Vec<(&'static str, u32)> {
    vec![
        ("sll $2, $4, 31", sll(V0, A0, 31)),
        ("srl $2, $4, 1", srl(V0, A0, 1)),
        ("rotr $2, $4, 8", rotr(V0, A0, 8)),
        ("sra $2, $4, 4", sra(V0, A0, 4)),
        ("sllv $2, $4, $5", sllv(V0, A0, A1)),
        ("srlv $2, $4, $5", srlv(V0, A0, A1)),
        ("rotrv $2, $4, $5", rotrv(V0, A0, A1)),
        ("srav $2, $4, $5", srav(V0, A0, A1)),
        ("dsll $2, $4, 31", dsll(V0, A0, 31)),
        ("dsrl $2, $4, 3", dsrl(V0, A0, 3)),
        ("drotr $2, $4, 4", drotr(V0, A0, 4)),
        ("dsra $2, $4, 5", dsra(V0, A0, 5)),
        ("dsll32 $2, $4, 31", dsll32(V0, A0, 31)),
        ("dsrl32 $2, $4, 1", dsrl32(V0, A0, 1)),
        ("drotr32 $2, $4, 7", drotr32(V0, A0, 7)),
        ("dsra32 $2, $4, 2", dsra32(V0, A0, 2)),
        ("dsllv $2, $4, $5", dsllv(V0, A0, A1)),
        ("dsrlv $2, $4, $5", dsrlv(V0, A0, A1)),
        ("drotrv $2, $4, $5", drotrv(V0, A0, A1)),
        ("dsrav $2, $4, $5", dsrav(V0, A0, A1)),
        ("movz $2, $4, $5", movz(V0, A0, A1)),
        ("movn $2, $4, $5", movn(V0, A0, A1)),
        ("add $2, $4, $5", add(V0, A0, A1)),
        ("addu $2, $4, $5", addu(V0, A0, A1)),
        ("sub $2, $4, $5", sub(V0, A0, A1)),
        ("subu $2, $4, $5", subu(V0, A0, A1)),
        ("and $2, $4, $5", and(V0, A0, A1)),
        ("or $2, $4, $5", or(V0, A0, A1)),
        ("or $2, $4, $0", mov(V0, A0)),
        ("xor $2, $4, $5", xor(V0, A0, A1)),
        ("nor $2, $4, $5", nor(V0, A0, A1)),
        ("slt $2, $4, $5", slt(V0, A0, A1)),
        ("sltu $2, $4, $5", sltu(V0, A0, A1)),
        ("dadd $2, $4, $5", dadd(V0, A0, A1)),
        ("daddu $2, $4, $5", daddu(V0, A0, A1)),
        ("dsub $2, $4, $5", dsub(V0, A0, A1)),
        ("dsubu $2, $4, $5", dsubu(V0, A0, A1)),
        ("mult $4, $5", mult(A0, A1)),
        ("multu $4, $5", multu(A0, A1)),
        ("div $0, $4, $5", div(A0, A1)),
        ("divu $0, $4, $5", divu(A0, A1)),
        ("dmult $4, $5", dmult(A0, A1)),
        ("dmultu $4, $5", dmultu(A0, A1)),
        ("ddiv $0, $4, $5", ddiv(A0, A1)),
        ("ddivu $0, $4, $5", ddivu(A0, A1)),
        ("mfhi $2", mfhi(V0)),
        ("mthi $4", mthi(A0)),
        ("mflo $2", mflo(V0)),
        ("mtlo $4", mtlo(A0)),
        ("madd $4, $5", madd(A0, A1)),
        ("maddu $4, $5", maddu(A0, A1)),
        ("msub $4, $5", msub(A0, A1)),
        ("msubu $4, $5", msubu(A0, A1)),
        ("mul $2, $4, $5", mul(V0, A0, A1)),
        ("clz $2, $4", clz(V0, A0)),
        ("clo $2, $4", clo(V0, A0)),
        ("dclz $2, $4", dclz(V0, A0)),
        ("dclo $2, $4", dclo(V0, A0)),
        ("sdbbp 5", sdbbp(5)),
        ("addi $2, $4, -5", addi(V0, A0, -5)),
        ("addiu $2, $4, -32768", addiu(V0, A0, -32768)),
        ("slti $2, $4, 100", slti(V0, A0, 100)),
        ("sltiu $2, $4, -1", sltiu(V0, A0, -1)),
        ("andi $2, $4, 0x8000", andi(V0, A0, 0x8000)),
        ("ori $2, $4, 0xffff", ori(V0, A0, 0xffff)),
        ("xori $2, $4, 0x1234", xori(V0, A0, 0x1234)),
        ("lui $2, 0x8000", lui(V0, 0x8000)),
        ("daddi $2, $4, -1", daddi(V0, A0, -1)),
        ("daddiu $2, $4, 32767", daddiu(V0, A0, 32767)),
        ("ext $2, $4, 4, 8", ext(V0, A0, 4, 8)),
        ("dextm $2, $4, 4, 36", dextm(V0, A0, 4, 36)),
        ("dextu $2, $4, 40, 8", dextu(V0, A0, 40, 8)),
        ("dext $2, $4, 28, 8", dext(V0, A0, 28, 8)),
        ("ins $2, $4, 8, 8", ins(V0, A0, 8, 8)),
        ("dinsm $2, $4, 16, 32", dinsm(V0, A0, 16, 32)),
        ("dinsu $2, $4, 40, 8", dinsu(V0, A0, 40, 8)),
        ("dins $2, $4, 4, 8", dins(V0, A0, 4, 8)),
        ("wsbh $2, $4", wsbh(V0, A0)),
        ("seb $2, $4", seb(V0, A0)),
        ("seh $2, $4", seh(V0, A0)),
        ("dsbh $2, $4", dsbh(V0, A0)),
        ("dshd $2, $4", dshd(V0, A0)),
        ("rdhwr $2, $29", rdhwr(V0, 29)),
        ("beq $4, $5, .+12", beq(A0, A1, 2)),
        ("bne $4, $5, .-4", bne(A0, A1, -2)),
        ("blez $4, .+12", blez(A0, 2)),
        ("bgtz $4, .+12", bgtz(A0, 2)),
        ("beql $4, $5, .+12", beql(A0, A1, 2)),
        ("bnel $4, $5, .+12", bnel(A0, A1, 2)),
        ("blezl $4, .+12", blezl(A0, 2)),
        ("bgtzl $4, .+12", bgtzl(A0, 2)),
        ("bltz $4, .+12", bltz(A0, 2)),
        ("bgez $4, .+12", bgez(A0, 2)),
        ("bltzl $4, .+12", bltzl(A0, 2)),
        ("bgezl $4, .+12", bgezl(A0, 2)),
        ("bltzal $4, .+12", bltzal(A0, 2)),
        ("bgezal $4, .+12", bgezal(A0, 2)),
        ("bltzall $4, .+12", bltzall(A0, 2)),
        ("bgezall $4, .+12", bgezall(A0, 2)),
        ("b .+8", b(1)),
        ("bal .+8", bal(1)),
        ("jr $25", jr(T9)),
        ("jr.hb $25", jr_hb(T9)),
        ("jalr $31, $25", jalr(RA, T9)),
        ("jalr.hb $31, $25", jalr_hb(RA, T9)),
        ("syscall 0x12", syscall(0x12)),
        ("break 0, 7", brk(7)),
        ("tge $4, $5, 1", tge(A0, A1, 1)),
        ("tgeu $4, $5, 2", tgeu(A0, A1, 2)),
        ("tlt $4, $5, 3", tlt(A0, A1, 3)),
        ("tltu $4, $5, 4", tltu(A0, A1, 4)),
        ("teq $4, $5, 0x3ff", teq(A0, A1, 0x3ff)),
        ("tne $4, $5, 6", tne(A0, A1, 6)),
        ("tgei $4, -1", tgei(A0, -1)),
        ("tgeiu $4, 5", tgeiu(A0, 5)),
        ("tlti $4, -4", tlti(A0, -4)),
        ("tltiu $4, 7", tltiu(A0, 7)),
        ("teqi $4, 0", teqi(A0, 0)),
        ("tnei $4, 9", tnei(A0, 9)),
        ("ldl $2, 7($4)", ldl(V0, 7, A0)),
        ("ldr $2, 0($4)", ldr(V0, 0, A0)),
        ("lb $2, -1($4)", lb(V0, -1, A0)),
        ("lh $2, 2($4)", lh(V0, 2, A0)),
        ("lwl $2, 3($4)", lwl(V0, 3, A0)),
        ("lw $2, -8($4)", lw(V0, -8, A0)),
        ("lbu $2, 1($4)", lbu(V0, 1, A0)),
        ("lhu $2, 2($4)", lhu(V0, 2, A0)),
        ("lwr $2, 0($4)", lwr(V0, 0, A0)),
        ("lwu $2, 4($4)", lwu(V0, 4, A0)),
        ("sb $2, 1($4)", sb(V0, 1, A0)),
        ("sh $2, 2($4)", sh(V0, 2, A0)),
        ("swl $2, 3($4)", swl(V0, 3, A0)),
        ("sw $2, 4($4)", sw(V0, 4, A0)),
        ("sdl $2, 7($4)", sdl(V0, 7, A0)),
        ("sdr $2, 0($4)", sdr(V0, 0, A0)),
        ("swr $2, 0($4)", swr(V0, 0, A0)),
        ("ll $2, 0($4)", ll(V0, 0, A0)),
        ("lwc1 $f2, 8($4)", lwc1(2, 8, A0)),
        ("lwc2 $2, 0($4)", lwc2(V0, 0, A0)),
        ("lld $2, 0($4)", lld(V0, 0, A0)),
        ("ldc1 $f2, 8($4)", ldc1(2, 8, A0)),
        ("ld $2, 8($4)", ld(V0, 8, A0)),
        ("sc $2, 0($4)", sc(V0, 0, A0)),
        ("swc1 $f2, 8($4)", swc1(2, 8, A0)),
        ("scd $2, 0($4)", scd(V0, 0, A0)),
        ("sdc1 $f2, 8($4)", sdc1(2, 8, A0)),
        ("sd $2, 8($4)", sd(V0, 8, A0)),
        ("cache 0x15, 0($4)", cache(0x15, 0, A0)),
        ("pref 1, 16($4)", pref(1, 16, A0)),
        ("sync", sync(0)),
        ("sync 16", sync(16)),
        ("synci 0($4)", synci(0, A0)),
        ("mfc0 $2, $12, 0", mfc0(V0, 12, 0)),
        ("dmfc0 $2, $14, 0", dmfc0(V0, 14, 0)),
        ("mtc0 $2, $11, 0", mtc0(V0, 11, 0)),
        ("dmtc0 $2, $15, 1", dmtc0(V0, 15, 1)),
        ("rdpgpr $2, $4", rdpgpr(V0, A0)),
        ("wrpgpr $2, $4", wrpgpr(V0, A0)),
        ("di $2", di(V0)),
        ("ei $2", ei(V0)),
        ("tlbr", TLBR),
        ("tlbwi", TLBWI),
        ("tlbwr", TLBWR),
        ("tlbp", TLBP),
        ("eret", ERET),
        ("wait", WAIT),
        ("ehb", EHB),
        ("mfc1 $2, $f3", mfc1(V0, 3)),
        ("mtc1 $2, $f3", mtc1(V0, 3)),
        ("add.d $f0, $f2, $f4", add_d(0, 2, 4)),
        ("dmtc1 $4, $f2", dmtc1(A0, 2)),
        ("ctc1 $5, $31", ctc1(A1, 31)),
        ("sqrt.d $f0, $f2", sqrt_d(0, 2)),
        ("bc1f .+12", bc1f(2)),
        ("movf $2, $3, $fcc0", movf(V0, V1, 0)),
        ("ldxc1 $f0, $5($4)", ldxc1(0, A1, A0)),
        ("c2 0x1234", cop2(0x1234)),
    ]
}

#[test]
fn encoder_matches_the_gnu_assembler() {
    let pairs = encoder_pairs();
    let dir = scratch("encoder");
    let src = dir.join("enc.s");
    let obj = dir.join("enc.o");
    let bin = dir.join("enc.bin");
    let mut text = String::from(".set noreorder\n.set noat\n.set nomacro\n.text\n");
    for (line, _) in &pairs {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&src, text).unwrap();
    let run = |cmd: &str, args: &[&std::ffi::OsStr]| {
        let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
            panic!("cannot run {cmd} (apt-get install gcc-mips64el-linux-gnuabi64): {e}")
        });
        assert!(
            out.status.success(),
            "{cmd} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        "mips64el-linux-gnuabi64-as",
        &[
            "-march=mips64r2".as_ref(),
            "-mabi=64".as_ref(),
            // Debian's assembler otherwise puts a sync before every ll/lld.
            "-mno-fix-loongson3-llsc".as_ref(),
            "-o".as_ref(),
            obj.as_os_str(),
            src.as_os_str(),
        ],
    );
    run(
        "mips64el-linux-gnuabi64-objcopy",
        &[
            "-O".as_ref(),
            "binary".as_ref(),
            "-j".as_ref(),
            ".text".as_ref(),
            obj.as_os_str(),
            bin.as_os_str(),
        ],
    );
    let words: Vec<u32> = std::fs::read(&bin)
        .unwrap()
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    // .text is padded to 16 bytes; anything more is a macro expansion.
    let (words, padding) = words.split_at(pairs.len().min(words.len()));
    assert!(
        words.len() == pairs.len() && padding.len() < 4 && padding.iter().all(|&w| w == 0),
        "the assembler expanded a macro ({} words for {} lines)",
        words.len() + padding.len(),
        pairs.len()
    );
    let bad: Vec<String> = pairs
        .iter()
        .zip(words)
        .filter(|((_, ours), gas)| ours != *gas)
        .map(|((line, ours), gas)| format!("{line}: encoder {ours:#010x}, gas {gas:#010x}"))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
