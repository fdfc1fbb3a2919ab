//! Running code under QEMU user mode (`qemu-mips64el -cpu MIPS64R2-generic`),
//! the reference for the differential tests.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use mips::ExcCode;

use super::asm::*;
use super::cases::{Case, Observed, State, BUF, BUF_LEN};
use super::elf;

/// The QEMU CPU model matching ours.
pub const CPU_MODEL: &str = "MIPS64R2-generic";

/// The QEMU user-mode binary (`$QEMU` or `qemu-mips64el`); panics with
/// installation advice if it cannot be run.
pub fn binary() -> String {
    let qemu = std::env::var("QEMU").unwrap_or_else(|_| "qemu-mips64el".into());
    match Command::new(&qemu).arg("--version").output() {
        Ok(o) if o.status.success() => qemu,
        _ => panic!(
            "cannot run `{qemu} --version`: the differential tests need QEMU user mode \
             (Debian/Ubuntu: apt-get install qemu-user)"
        ),
    }
}

/// Runs a MIPS64 executable under QEMU and returns its output.
pub fn run(exe: &Path) -> Output {
    let qemu = binary();
    Command::new(&qemu)
        .args(["-cpu", CPU_MODEL])
        .arg(exe)
        .output()
        .unwrap_or_else(|e| panic!("running {qemu} {}: {e}", exe.display()))
}

/// Load address of the case wrapper.
const BASE: u64 = 0x1_2000_0000;
const CODE_OFF: usize = 0x1000;
const OUT_OFF: usize = 0x3000;
/// Bytes written by the wrapper: 32 registers, HI, LO, padding, buffer.
const OUT_LEN: usize = 0x200 + BUF_LEN;

/// Wraps a case into a static executable: set all registers, HI and LO, run
/// the case, store the registers and the buffer, write them to stdout, exit.
/// Returns the executable and the address of the case's first instruction.
pub fn case_executable(c: &Case) -> (Vec<u8>, u64) {
    let out = BASE + OUT_OFF as u64;
    let mut code = li64(K0, out);
    code.extend(li64(AT, c.init_hilo.0));
    code.push(mthi(AT));
    code.extend(li64(AT, c.init_hilo.1));
    code.push(mtlo(AT));
    for r in (1..32).filter(|&r| r != K0) {
        code.push(mov(r, ZERO));
    }
    code.push(daddiu(BUF, K0, 0x200));
    for &(r, v) in &c.init {
        code.extend(li64(r, v));
    }
    let start = BASE + CODE_OFF as u64 + 4 * code.len() as u64;
    code.extend(&c.code);
    for r in (1..32).filter(|&r| r != K0) {
        code.push(sd(r, 8 * r as i16, K0));
    }
    code.extend([mfhi(AT), sd(AT, 256, K0), mflo(AT), sd(AT, 264, K0)]);
    code.extend([
        addiu(V0, ZERO, 5001), // write(1, out, OUT_LEN)
        addiu(A0, ZERO, 1),
        mov(A1, K0),
        addiu(A2, ZERO, OUT_LEN as i16),
        syscall(0),
        addiu(V0, ZERO, 5058), // exit(0)
        mov(A0, ZERO),
        syscall(0),
    ]);
    assert!(
        CODE_OFF + 4 * code.len() <= OUT_OFF,
        "case {} too long",
        c.name
    );
    let mut image = vec![0u8; OUT_OFF + OUT_LEN];
    for (k, w) in code.iter().enumerate() {
        image[CODE_OFF + 4 * k..][..4].copy_from_slice(&w.to_le_bytes());
    }
    image[OUT_OFF + 0x200..].copy_from_slice(&c.mem);
    let exe = elf::build(BASE, BASE + CODE_OFF as u64, image, 0x4000);
    (exe, start)
}

/// The signal QEMU's Linux user mode delivers for an exception in a case.
pub fn signal_for(code: ExcCode) -> i32 {
    match code {
        ExcCode::Ov => libc_sig::SIGFPE,
        ExcCode::Tr | ExcCode::Bp => libc_sig::SIGTRAP,
        ExcCode::Ri | ExcCode::CpU => libc_sig::SIGILL,
        ExcCode::AdEL | ExcCode::AdES => libc_sig::SIGBUS,
        _ => libc_sig::SIGSEGV,
    }
}

/// Signal numbers (Linux, the host QEMU runs on).
pub mod libc_sig {
    pub const SIGILL: i32 = 4;
    pub const SIGTRAP: i32 = 5;
    pub const SIGBUS: i32 = 7;
    pub const SIGFPE: i32 = 8;
    pub const SIGSEGV: i32 = 11;
}

/// Runs a case under QEMU. A case that ends in an exception is reported as
/// that exception when QEMU's process died of the matching signal.
pub fn run_case(c: &Case, dir: &Path) -> Result<Observed, String> {
    let (exe, start) = case_executable(c);
    let file = dir.join(format!("case-{:016x}", fxhash(&c.name)));
    std::fs::write(&file, exe).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut perm = std::fs::metadata(&file).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&file, perm).unwrap();
    let out = run(&file);
    let _ = std::fs::remove_file(&file);
    if let Some(sig) = out.status.signal() {
        return match c.exception {
            Some(code) if signal_for(code) == sig => Ok(Observed {
                exception: Some(code),
                state: None,
            }),
            _ => Err(format!("{}: QEMU died of signal {sig}", c.name)),
        };
    }
    if !out.status.success() || out.stdout.len() != OUT_LEN {
        return Err(format!(
            "{}: QEMU exited with {} after {} bytes of output ({})",
            c.name,
            out.status,
            out.stdout.len(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let word = |k: usize| u64::from_le_bytes(out.stdout[8 * k..8 * k + 8].try_into().unwrap());
    Ok(Observed {
        exception: None,
        state: Some(State {
            regs: std::array::from_fn(word),
            hi: word(32),
            lo: word(33),
            mem: out.stdout[0x200..].try_into().unwrap(),
            code_base: start,
        }),
    })
}

/// A stable name hash (FNV-1a) for temporary file names.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}
