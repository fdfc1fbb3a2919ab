//! Kernel-service attribution (the paper's Table 2): what entered the
//! kernel from user mode, how often, and for how long.
//!
//! A *service* runs from an exception taken in user mode (KSU = user,
//! EXL = ERL = 0) to the `eret` that returns to user mode. Exceptions taken
//! meanwhile in the kernel (an interrupt during a system call) belong to
//! it. A service is keyed by what entered the kernel ([`ServiceKey`]): the
//! system-call number (`$v0` at the `syscall`), a TLB refill (the refill
//! vectors), or the exception code. Time the CPU spends idle in `WAIT`
//! inside a service is not counted, so the cycles of all services are part
//! of the CPU's kernel time (execution and memory stalls).
//!
//! The tracker is off by default ([`crate::Cpu::set_service_tracking`]);
//! when off it costs one test per exception and per `eret`. It never
//! changes simulated time.

use std::collections::BTreeMap;

use crate::exception::{ExcCode, Exception};

/// What entered the kernel from user mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    /// A system call: its number (`$v0` at the `syscall`; n64 numbers
    /// start at 5000).
    Syscall(u64),
    /// A TLB refill: no matching entry, taken through the refill vectors
    /// (EBase + 0x000 / 0x080) — the paper's UTLB-MISS.
    TlbRefill,
    /// Any other exception, by code (`Cause.ExcCode`): TLB load, store
    /// and modify exceptions (page faults), interrupts, ...
    Exception(u8),
}

impl ServiceKey {
    /// The service exception `e` starts, with `$v0` = `v0`.
    pub fn of(e: &Exception, v0: u64) -> Self {
        match e.code {
            ExcCode::Sys => ServiceKey::Syscall(v0),
            ExcCode::TlbL | ExcCode::TlbS if e.refill => ServiceKey::TlbRefill,
            code => ServiceKey::Exception(code as u8),
        }
    }

    /// Its name: the system call's (from `syscall_name`, else
    /// `syscall-N`), `tlb-refill`, or the exception's (`tlb-load`,
    /// `tlb-store`, `tlb-modify`, `interrupt`, ...).
    pub fn name(&self, syscall_name: impl Fn(u64) -> Option<&'static str>) -> String {
        match *self {
            ServiceKey::Syscall(n) => match syscall_name(n) {
                Some(s) => s.to_string(),
                None => format!("syscall-{n}"),
            },
            ServiceKey::TlbRefill => "tlb-refill".into(),
            ServiceKey::Exception(code) => {
                exception_service_name(ExcCode::from_cause(u64::from(code) << 2)).into()
            }
        }
    }
}

/// The service name of exception code `code`.
fn exception_service_name(code: ExcCode) -> &'static str {
    match code {
        ExcCode::Int => "interrupt",
        ExcCode::Mod => "tlb-modify",
        ExcCode::TlbL => "tlb-load",
        ExcCode::TlbS => "tlb-store",
        ExcCode::AdEL => "address-error-load",
        ExcCode::AdES => "address-error-store",
        ExcCode::Ibe => "bus-error-fetch",
        ExcCode::Dbe => "bus-error-data",
        ExcCode::Sys => "syscall",
        ExcCode::Bp => "break",
        ExcCode::Ri => "reserved-instruction",
        ExcCode::CpU => "coprocessor-unusable",
        ExcCode::Ov => "overflow",
        ExcCode::Tr => "trap",
        ExcCode::Fpe => "fp-exception",
    }
}

/// How often a service ran and the cycles it took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceCount {
    /// Completed services (returned to user mode).
    pub count: u64,
    /// Their cycles, from the exception to the end of the `eret`, idle
    /// time excluded.
    pub cycles: u64,
}

/// Per-CPU service accounting (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct ServiceTracker {
    /// The service in progress: key, cycle and idle cycles at entry.
    current: Option<(ServiceKey, u64, u64)>,
    counts: BTreeMap<ServiceKey, ServiceCount>,
}

impl ServiceTracker {
    /// The services completed so far.
    pub fn counts(&self) -> &BTreeMap<ServiceKey, ServiceCount> {
        &self.counts
    }

    /// The service in progress, if any.
    pub fn current(&self) -> Option<ServiceKey> {
        self.current.map(|(k, ..)| k)
    }

    /// Forgets the counts and the service in progress (a measured region
    /// starts; a service entered before it is not counted).
    pub fn reset(&mut self) {
        self.current = None;
        self.counts.clear();
    }

    /// A service `key` starts at cycle `now` (`idle` idle cycles so far).
    pub(crate) fn enter(&mut self, key: ServiceKey, now: u64, idle: u64) {
        self.current = Some((key, now, idle));
    }

    /// The service in progress ends at cycle `now` (`idle` idle cycles
    /// so far).
    pub(crate) fn exit(&mut self, now: u64, idle: u64) {
        if let Some((key, start, idle_at_start)) = self.current.take() {
            let c = self.counts.entry(key).or_default();
            c.count += 1;
            c.cycles += now
                .saturating_sub(start)
                .saturating_sub(idle.saturating_sub(idle_at_start));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names() {
        let sys = Exception::new(ExcCode::Sys);
        assert_eq!(ServiceKey::of(&sys, 5038), ServiceKey::Syscall(5038));
        let refill = Exception::refill(ExcCode::TlbS, 0x1000);
        assert_eq!(ServiceKey::of(&refill, 0), ServiceKey::TlbRefill);
        let invalid = Exception::at(ExcCode::TlbL, 0x1000);
        let k = ServiceKey::of(&invalid, 0);
        assert_eq!(k.name(|_| None), "tlb-load");
        let names = |n: u64| (n == 5038).then_some("getpid");
        assert_eq!(ServiceKey::Syscall(5038).name(names), "getpid");
        assert_eq!(ServiceKey::Syscall(5999).name(names), "syscall-5999");
        assert_eq!(ServiceKey::TlbRefill.name(names), "tlb-refill");
        let int = ServiceKey::of(&Exception::new(ExcCode::Int), 0);
        assert_eq!(int.name(names), "interrupt");
        let m = ServiceKey::of(&Exception::at(ExcCode::Mod, 0), 0);
        assert_eq!(m.name(names), "tlb-modify");
    }

    #[test]
    fn idle_time_is_excluded_and_a_reset_drops_the_service_in_progress() {
        let mut t = ServiceTracker::default();
        t.enter(ServiceKey::TlbRefill, 100, 5);
        t.exit(150, 15);
        assert_eq!(t.counts()[&ServiceKey::TlbRefill].cycles, 40);
        t.exit(200, 15);
        assert_eq!(t.counts()[&ServiceKey::TlbRefill].count, 1);
        t.enter(ServiceKey::Syscall(1), 300, 0);
        t.reset();
        t.exit(1_000_000, 0);
        assert!(t.counts().is_empty());
    }
}
