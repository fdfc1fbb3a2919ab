//! Disco: a simulated MIPS64 little-endian machine that boots stock Debian Linux.

pub mod images;
