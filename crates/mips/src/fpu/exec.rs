//! Execution of COP1 computational and move instructions.

use super::{FpInstr, Fpu};

/// Why an FPU instruction did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FpuException {
    /// Floating-point exception (ExcCode 15): FCSR.Cause holds the reason.
    #[error("floating-point exception")]
    FloatingPoint,
    /// The encoding is reserved for this format or implementation.
    #[error("reserved FPU instruction")]
    Reserved,
}

impl Fpu {
    /// Executes one non-memory, non-branch COP1/COP1X instruction. `gpr` is the
    /// general register file (for moves; register 0 is never written) and `fr`
    /// the current `Status.FR`.
    pub fn execute(
        &mut self,
        ins: &FpInstr,
        gpr: &mut [u64; 32],
        fr: bool,
    ) -> Result<(), FpuException> {
        let _ = (ins, gpr, fr);
        Err(FpuException::Reserved)
    }
}
