//! The migration and replication policy (§4.2.3): on a hot page, migrate,
//! replicate, or leave it, from the page's per-node miss counters.
//!
//! Disco's policy "moves only pages likely to give an eventual benefit":
//! "pages that are heavily accessed by only one node are migrated to that
//! node", "pages that are primarily read-shared are replicated to the
//! nodes most heavily accessing them", "pages that are write-shared are
//! not moved", and "the number of times a page can move" is limited. It
//! cites Verghese et al. (ASPLOS 1996), whose decision tree and parameters
//! this follows:
//!
//! | Parameter | Default | Meaning |
//! |---|---|---|
//! | `trigger` | 32 misses | a page is *hot* when one node's count since the last reset reaches it (FLASH's hot-page interrupt) |
//! | `sharing` | 8 misses | another node with at least this many makes the page *shared* |
//! | `write` | 1 | a page with at least this many ownership requests (store misses, upgrades) since the last reset is *written*: never replicated |
//! | `move_limit` | 1 | migrations of one page per reset interval |
//! | `reset_interval_ms` | 100 ms | every counter is cleared this often (simulated time) |
//! | `freeze_after` | 4 | a page whose move score (migrations and collapses, halved every interval) reaches this is *frozen*: it bounces |
//! | `freeze_intervals` | 10 | how many intervals a frozen page stays put |
//! | `min_free_percent` | 10 % | no page is moved to a node with less free memory than this |
//! | `kernel_image` | false | also move the pages of the guest kernel's image (text and static data) |
//!
//! The kernel image is left alone by default: an unmodified Linux reaches
//! it through its unmapped segment, which the monitor maps with large TLB
//! pages while it is one run of machine memory ([`crate::memory::ktlb`]).
//! One moved or replicated page splits that run, and the kernel then takes
//! many more kernel TLB faults than the remote misses it saves (measured on
//! Engineering: 69 replications of image pages took the kernel TLB faults
//! from 0.6 to 2.7 million; see docs/numa.md).
//!
//! `write`, `move_limit` and the reset interval are Verghese et al.'s as
//! recalled in `research/numa-migration-replication.md` §2.2 (not checked
//! against the paper's text). Their trigger and sharing thresholds were 128
//! and 32 misses; ours are a quarter of those, in the same ratio: with
//! 128, a page of Engineering's memory simulators (7.5 MiB touched at
//! random) never gets 128 misses from one node in 100 ms, and the policy
//! moved 190 pages in a run where 32 moves 30 000 and makes the run faster
//! (docs/numa.md). The paper's Disco, with its cheaper moves, was also
//! "more aggressive" than Verghese's kernel (§5.5). The freeze follows
//! IRIX's bounce control (freeze, then melt) and the memory floor IRIX's
//! and Carrefour's, both with our values.

use serde::{Deserialize, Serialize};

/// The policy's parameters (see the module documentation for each).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumaConfig {
    /// Migrate pages used by one node.
    pub migrate: bool,
    /// Replicate read-shared pages.
    pub replicate: bool,
    /// Misses from one node that make a page hot.
    pub trigger: u32,
    /// Misses from another node that make a page shared.
    pub sharing: u32,
    /// Ownership requests that make a page written (never replicated).
    pub write: u32,
    /// Migrations of one page per reset interval.
    pub move_limit: u32,
    /// Simulated milliseconds between counter resets.
    pub reset_interval_ms: f64,
    /// Move score at which a page is frozen.
    pub freeze_after: u32,
    /// Reset intervals a frozen page stays frozen.
    pub freeze_intervals: u32,
    /// Free memory (percent of the node's) a target node must keep.
    pub min_free_percent: u32,
    /// Move the guest kernel image's pages too.
    pub kernel_image: bool,
}

impl Default for NumaConfig {
    fn default() -> Self {
        NumaConfig {
            migrate: true,
            replicate: true,
            trigger: 32,
            sharing: 8,
            write: 1,
            move_limit: 1,
            reset_interval_ms: 100.0,
            freeze_after: 4,
            freeze_intervals: 10,
            min_free_percent: 10,
            kernel_image: false,
        }
    }
}

impl NumaConfig {
    /// The policy with migration and replication off: the monitor only
    /// places memory (first touch, vCPU affinity).
    pub fn off() -> Self {
        NumaConfig {
            migrate: false,
            replicate: false,
            ..NumaConfig::default()
        }
    }

    /// True when the policy may move pages.
    pub fn enabled(&self) -> bool {
        self.migrate || self.replicate
    }

    /// Checks the values: thresholds of at least 1, a positive interval, a
    /// percentage.
    pub fn validate(&self) -> Result<(), String> {
        let at_least_one = [
            ("trigger", self.trigger),
            ("sharing", self.sharing),
            ("write", self.write),
            ("freeze_after", self.freeze_after),
        ];
        if let Some((k, _)) = at_least_one.iter().find(|(_, v)| *v == 0) {
            return Err(format!("numa: {k} must be at least 1"));
        }
        if !(self.reset_interval_ms.is_finite() && self.reset_interval_ms > 0.0) {
            return Err(format!(
                "numa: reset_interval_ms must be a positive number of milliseconds, not {}",
                self.reset_interval_ms
            ));
        }
        if self.min_free_percent > 100 {
            return Err(format!(
                "numa: min_free_percent is a percentage (0..=100), not {}",
                self.min_free_percent
            ));
        }
        Ok(())
    }

    /// Sets parameter `key` from its text `value` (the command line's
    /// `--numa-set KEY=VALUE`); the keys are the TOML `[numa]` keys.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let bad = |what: &str| format!("numa: {key} = {value:?}: expected {what}");
        let int = |v: &str| v.parse::<u32>().map_err(|_| bad("a whole number"));
        let flag = |v: &str| v.parse::<bool>().map_err(|_| bad("true or false"));
        match key {
            "migrate" => self.migrate = flag(value)?,
            "replicate" => self.replicate = flag(value)?,
            "trigger" => self.trigger = int(value)?,
            "sharing" => self.sharing = int(value)?,
            "write" => self.write = int(value)?,
            "move_limit" => self.move_limit = int(value)?,
            "reset_interval_ms" => {
                self.reset_interval_ms = value.parse().map_err(|_| bad("milliseconds"))?
            }
            "freeze_after" => self.freeze_after = int(value)?,
            "freeze_intervals" => self.freeze_intervals = int(value)?,
            "min_free_percent" => self.min_free_percent = int(value)?,
            "kernel_image" => self.kernel_image = flag(value)?,
            _ => {
                return Err(format!(
                    "numa: no parameter '{key}' (known: migrate, replicate, trigger, sharing, write, move_limit, reset_interval_ms, freeze_after, freeze_intervals, min_free_percent, kernel_image)"
                ))
            }
        }
        Ok(())
    }
}

/// What the policy knows about a hot page when it decides.
#[derive(Clone, Debug, PartialEq)]
pub struct PageFacts<'a> {
    /// Misses per node since the last reset.
    pub counts: &'a [u32],
    /// Ownership requests (store misses, upgrades) since the last reset.
    pub writes: u32,
    /// The node whose count reached the trigger.
    pub hot_node: u32,
    /// The node holding the page (the master, if replicated).
    pub home: u32,
    /// Nodes holding a replica, one bit each.
    pub replica_nodes: u64,
    /// Several VMs map it read-only (a disk-cache or kernel-image page):
    /// it can be replicated, never migrated.
    pub shared: bool,
    /// It belongs to a guest kernel's image.
    pub kernel_image: bool,
    /// Migrations of it in this reset interval.
    pub moves: u32,
    /// It is frozen.
    pub frozen: bool,
    /// The hot node has free memory above the floor.
    pub room: bool,
}

/// What the policy does with a hot page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Move it to the hot node.
    Migrate,
    /// Copy it, read-only, to the hot node.
    Replicate,
}

/// Why the policy leaves a hot page where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The hot node already has a copy.
    Local,
    /// It is frozen (it bounced).
    Frozen,
    /// Several nodes use it and it is written: nothing helps.
    WriteShared,
    /// It already migrated `move_limit` times in this interval.
    MoveLimit,
    /// The hot node is short of free memory.
    NoMemory,
    /// The action it needs is turned off.
    Disabled,
    /// Not a page the policy can move (free, a replica, the monitor's).
    NotMovable,
    /// A page of the guest kernel's image (`kernel_image` is off).
    KernelImage,
}

impl Refusal {
    /// Its name in statistics and traces.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Local => "local",
            Refusal::Frozen => "frozen",
            Refusal::WriteShared => "write_shared",
            Refusal::MoveLimit => "move_limit",
            Refusal::NoMemory => "no_memory",
            Refusal::Disabled => "disabled",
            Refusal::NotMovable => "not_movable",
            Refusal::KernelImage => "kernel_image",
        }
    }
}

/// The decision for a hot page (Verghese et al.'s tree): a page another
/// node also uses (or that is shared or replicated already) is read-shared
/// and replicated unless written; a page only the hot node uses migrates
/// unless it moved too often.
pub fn decide(cfg: &NumaConfig, f: &PageFacts<'_>) -> Result<Action, Refusal> {
    let hot = f.hot_node;
    if f.home == hot || (hot < 64 && f.replica_nodes & (1 << hot) != 0) {
        return Err(Refusal::Local);
    }
    if f.kernel_image && !cfg.kernel_image {
        return Err(Refusal::KernelImage);
    }
    if f.frozen {
        return Err(Refusal::Frozen);
    }
    let others = f
        .counts
        .iter()
        .enumerate()
        .any(|(n, &c)| n as u32 != hot && c >= cfg.sharing);
    if others || f.shared || f.replica_nodes != 0 {
        if f.writes >= cfg.write {
            return Err(Refusal::WriteShared);
        }
        if !cfg.replicate {
            return Err(Refusal::Disabled);
        }
        if !f.room {
            return Err(Refusal::NoMemory);
        }
        return Ok(Action::Replicate);
    }
    if f.moves >= cfg.move_limit {
        return Err(Refusal::MoveLimit);
    }
    if !cfg.migrate {
        return Err(Refusal::Disabled);
    }
    if !f.room {
        return Err(Refusal::NoMemory);
    }
    Ok(Action::Migrate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page on node 0, hot from node 1 with 128 misses.
    fn facts(counts: &[u32]) -> PageFacts<'_> {
        PageFacts {
            counts,
            writes: 0,
            hot_node: 1,
            home: 0,
            replica_nodes: 0,
            shared: false,
            kernel_image: false,
            moves: 0,
            frozen: false,
            room: true,
        }
    }

    /// Verghese et al.'s thresholds: trigger 128, sharing 32.
    fn verghese() -> NumaConfig {
        NumaConfig {
            trigger: 128,
            sharing: 32,
            ..NumaConfig::default()
        }
    }

    #[test]
    fn decisions_follow_the_tree() {
        let cfg = verghese();
        type Case = (
            &'static str,
            fn(&mut PageFacts<'_>),
            Result<Action, Refusal>,
        );
        let cases: &[Case] = &[
            ("used by one node", |_| {}, Ok(Action::Migrate)),
            (
                "written by one node still migrates",
                |f| f.writes = 40,
                Ok(Action::Migrate),
            ),
            (
                "read by two nodes",
                |f| f.counts = &[32, 128],
                Ok(Action::Replicate),
            ),
            (
                "the second node below the sharing threshold",
                |f| f.counts = &[31, 128],
                Ok(Action::Migrate),
            ),
            (
                "read and written by two nodes",
                |f| {
                    f.counts = &[40, 128];
                    f.writes = 1
                },
                Err(Refusal::WriteShared),
            ),
            (
                "a page several VMs map",
                |f| f.shared = true,
                Ok(Action::Replicate),
            ),
            (
                "a written page several VMs map",
                |f| {
                    f.shared = true;
                    f.writes = 3
                },
                Err(Refusal::WriteShared),
            ),
            (
                "replicated elsewhere already",
                |f| f.replica_nodes = 1 << 3,
                Ok(Action::Replicate),
            ),
            (
                "the hot node has a replica",
                |f| f.replica_nodes = 1 << 1,
                Err(Refusal::Local),
            ),
            ("the hot node holds it", |f| f.home = 1, Err(Refusal::Local)),
            (
                "moved in this interval",
                |f| f.moves = 1,
                Err(Refusal::MoveLimit),
            ),
            (
                "moved, but read-shared now",
                |f| {
                    f.moves = 1;
                    f.counts = &[50, 128]
                },
                Ok(Action::Replicate),
            ),
            ("frozen", |f| f.frozen = true, Err(Refusal::Frozen)),
            (
                "the kernel image",
                |f| f.kernel_image = true,
                Err(Refusal::KernelImage),
            ),
            (
                "no room to migrate",
                |f| f.room = false,
                Err(Refusal::NoMemory),
            ),
            (
                "no room to replicate",
                |f| {
                    f.room = false;
                    f.shared = true
                },
                Err(Refusal::NoMemory),
            ),
        ];
        for (name, change, want) in cases {
            let mut f = facts(&[0, 128]);
            change(&mut f);
            assert_eq!(decide(&cfg, &f), *want, "{name}");
        }
    }

    #[test]
    fn each_action_can_be_turned_off() {
        let only_replicate = NumaConfig {
            migrate: false,
            ..verghese()
        };
        assert_eq!(
            decide(&only_replicate, &facts(&[0, 128])),
            Err(Refusal::Disabled)
        );
        assert_eq!(
            decide(&only_replicate, &facts(&[64, 128])),
            Ok(Action::Replicate)
        );
        let only_migrate = NumaConfig {
            replicate: false,
            ..verghese()
        };
        assert_eq!(
            decide(&only_migrate, &facts(&[64, 128])),
            Err(Refusal::Disabled)
        );
        assert_eq!(
            decide(&only_migrate, &facts(&[0, 128])),
            Ok(Action::Migrate)
        );
        assert!(!NumaConfig::off().enabled());
        let image = NumaConfig {
            kernel_image: true,
            ..verghese()
        };
        let mut f = facts(&[0, 128]);
        f.kernel_image = true;
        assert_eq!(
            decide(&image, &f),
            Ok(Action::Migrate),
            "kernel_image = true"
        );
    }

    #[test]
    fn parameters_are_set_by_name_and_checked() {
        let mut c = NumaConfig::default();
        c.set("trigger", "16").unwrap();
        c.set("reset_interval_ms", "2.5").unwrap();
        c.set("replicate", "false").unwrap();
        assert_eq!(
            (c.trigger, c.reset_interval_ms, c.replicate),
            (16, 2.5, false)
        );
        assert!(c.set("trigger", "-1").unwrap_err().contains("whole number"));
        assert!(c
            .set("bogus", "1")
            .unwrap_err()
            .contains("no parameter 'bogus'"));
        c.validate().unwrap();
        c.sharing = 0;
        assert!(c.validate().unwrap_err().contains("sharing"));
        c.sharing = 1;
        c.reset_interval_ms = 0.0;
        assert!(c.validate().is_err());
        c.reset_interval_ms = 1.0;
        c.min_free_percent = 101;
        assert!(c.validate().is_err());
    }
}
