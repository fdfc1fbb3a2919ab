//! Disco: a simulated FLASH-like MIPS64 machine that boots stock Debian Linux,
//! and (to come) the Disco virtual machine monitor on top of it.
//!
//! This crate is the command-line front end: argument parsing ([`cli`]),
//! guest images ([`images`]), running a machine with its console ([`run`]).

pub mod addfiles;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod console;
pub mod disks;
pub mod exec_output;
pub mod experiment;
pub mod guest;
pub mod images;
pub mod memreport;
pub mod run;
pub mod session;
pub mod size;
pub mod stats;
pub mod trace;
pub mod up;
