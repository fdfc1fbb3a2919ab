//! `--trace`: routes the simulator's trace events to stderr.

use tracing_subscriber::EnvFilter;

use crate::cli::TraceEvent;

/// Installs a subscriber printing the selected events (none: only warnings).
pub fn init(events: &[TraceEvent]) {
    let mut filter = String::from("warn");
    for e in events {
        let target = match e {
            TraceEvent::Exc => "mips::exc",
            TraceEvent::Tlb => "mips::tlb",
            TraceEvent::Mmio => "mips::mmio",
            TraceEvent::Dev => "machine::dev",
            TraceEvent::Monitor => "monitor",
            TraceEvent::Cow => "monitor::cow",
            TraceEvent::Numa => "monitor::numa",
            TraceEvent::Insn => continue,
        };
        filter.push_str(&format!(",{target}=trace"));
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .without_time()
        .with_level(false)
        .try_init();
}
