//! Helpers shared by the CPU integration tests. Each test binary uses a
//! different subset.
#![allow(dead_code)]

pub mod asm;
pub mod cases;
pub mod elf;
pub mod harness;
pub mod qemu;
pub mod userland;
