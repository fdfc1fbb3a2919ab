//! The TOML machine-configuration file (`disco run --config FILE`).
//!
//! ```toml
//! [machine]
//! cpus = 8            # 1..16
//! nodes = 8           # NUMA nodes; default one per CPU
//! mem = "1G"          # or a number of bytes
//! cpu_mhz = 400
//! interleave = false  # pages round-robin across nodes instead of ranges
//! uma = false         # every miss at the local latency (the paper's UMA bound)
//! quantum = 10000     # cycles a CPU runs before the next takes its turn
//! disks = ["data.img", "base.img,cow"]  # /dev/vda, /dev/vdb (relative to the file; ,ro and ,cow as for --disk)
//! disk_access_us = 100  # simulated disk: time per request
//! disk_mb_per_s = 200   # and transfer rate (MB = 10^6 bytes)
//!
//! [monitor]
//! patch = true        # rewrite privileged instructions on their first trap
//!
//! [numa]              # the monitor's page migration and replication (docs/numa.md)
//! migrate = true
//! replicate = true
//! trigger = 128       # misses from one node that make a page hot
//!
//! [timing]
//! mode = "fast"       # or "detailed"
//! l1i_bytes = 32768   # any field of the timing model (see docs/timing.md)
//! local_miss_ns = 300
//! remote_miss_ns = 900
//! ```
//!
//! Every field is optional; command-line options override the file.

use std::path::Path;

use anyhow::{Context, Result};
use machine::simctl::TimingMode;
use machine::timing::TimingConfig;
use serde::Deserialize;

/// A parsed configuration file.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[machine]`.
    #[serde(default)]
    pub machine: MachineSection,
    /// `[timing]`.
    #[serde(default)]
    pub timing: TimingSection,
    /// `[monitor]`: how the Disco monitor runs VMs.
    #[serde(default)]
    pub monitor: MonitorSection,
    /// `[numa]`: the monitor's NUMA policy.
    #[serde(default)]
    pub numa: monitor::numa::NumaConfig,
    /// `[[vm]]`: the virtual machines of `disco up`.
    #[serde(default)]
    pub vm: Vec<VmSection>,
}

/// `[[vm]]`: one virtual machine. Paths are relative to the file.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VmSection {
    /// Name (default `vmN`, N its position from 0).
    pub name: Option<String>,
    /// Memory: bytes or a string such as "256M" (a multiple of 16M).
    pub mem: Option<Size>,
    /// Virtual CPUs.
    pub vcpus: Option<u32>,
    /// Kernel (default: Debian's).
    pub kernel: Option<std::path::PathBuf>,
    /// Initramfs (default: the one built around Debian's busybox).
    pub initrd: Option<std::path::PathBuf>,
    /// Host files for the initramfs, `HOST[:GUEST]` as `--add` takes them.
    #[serde(default)]
    pub add: Vec<String>,
    /// Extra kernel command-line arguments.
    pub append: Option<String>,
    /// Command to run (the VM ends with its status); without it a shell.
    pub exec: Option<String>,
    /// Disks, `PATH[,ro|,cow]` as `--disk` takes them: /dev/vda, /dev/vdb, ...
    #[serde(default)]
    pub disks: Vec<String>,
    /// A network interface (eth0) on the monitor's virtual subnet.
    pub net: Option<bool>,
    /// Boot from the Debian root disk (`/dev/vda`, copy-on-write: the
    /// image never changes, the VM's writes are dropped when it ends;
    /// built if missing).
    pub rootfs: Option<bool>,
}

/// `[machine]`: topology, memory, clock.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MachineSection {
    /// Number of CPUs.
    pub cpus: Option<u32>,
    /// Number of NUMA nodes.
    pub nodes: Option<u32>,
    /// RAM size: bytes, or a string such as "512M".
    pub mem: Option<Size>,
    /// CPU clock in MHz.
    pub cpu_mhz: Option<u32>,
    /// Interleave pages across nodes.
    pub interleave: Option<bool>,
    /// Every miss at the local latency.
    pub uma: Option<bool>,
    /// Cycles per CPU turn.
    pub quantum: Option<u64>,
    /// Disks of the bare machine, `PATH[,ro|,cow]`.
    #[serde(default)]
    pub disks: Vec<String>,
    /// Simulated disk: fixed time per request, µs.
    pub disk_access_us: Option<u64>,
    /// Simulated disk: transfer rate, 10^6 bytes per second.
    pub disk_mb_per_s: Option<u64>,
}

/// `[monitor]`: options of the Disco monitor (`disco up`, `disco run --vm`).
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitorSection {
    /// Rewrite privileged instructions into register-page loads and stores
    /// on their first trap (default true).
    pub patch: Option<bool>,
    /// Share copy-on-write disks' pages between VMs through the global disk
    /// cache (default true); false copies every read instead.
    pub sharing: Option<bool>,
    /// Share the decompressed kernel image's pages between VMs booting the
    /// same kernel (default true, when `sharing` is on).
    pub share_kernel: Option<bool>,
}

/// A size given as a number of bytes or a string with a suffix.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Size {
    /// Bytes.
    Bytes(u64),
    /// "512M", "1G", ...
    Text(String),
}

impl Size {
    /// The size in bytes.
    pub fn bytes(&self) -> Result<u64> {
        match self {
            Size::Bytes(b) => Ok(*b),
            Size::Text(s) => crate::size::parse_size(s).map_err(anyhow::Error::msg),
        }
    }
}

/// `[timing]`: mode at power-on and the detailed model's parameters.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct TimingSection {
    /// "fast" or "detailed".
    pub mode: Option<String>,
    pub l1i_bytes: Option<u32>,
    pub l1d_bytes: Option<u32>,
    pub l1_ways: Option<u32>,
    pub l1_line: Option<u32>,
    pub l2_bytes: Option<u32>,
    pub l2_ways: Option<u32>,
    pub l2_line: Option<u32>,
    pub l2_hit_ns: Option<u32>,
    pub local_miss_ns: Option<u32>,
    pub remote_miss_ns: Option<u32>,
    pub remote_dirty_ns: Option<u32>,
    pub mem_occupancy_ns: Option<u32>,
}

/// Parses `PATH[,ro|,cow]` entries of a configuration file, paths relative to
/// the file's directory `base`.
pub fn disks_relative_to(
    entries: &[String],
    base: &Path,
) -> Result<Vec<machine::virtio::DiskConfig>> {
    entries
        .iter()
        .map(|e| {
            let mut d = crate::disks::parse_disk(e).map_err(anyhow::Error::msg)?;
            if d.path.is_relative() {
                d.path = base.join(&d.path);
            }
            Ok(d)
        })
        .collect()
}

impl ConfigFile {
    /// The simulated disk's timing: defaults, then `[machine]`'s fields.
    pub fn disk_timing(&self) -> machine::virtio::DiskTiming {
        let mut t = machine::virtio::DiskTiming::default();
        if let Some(us) = self.machine.disk_access_us {
            t.access_ns = us.saturating_mul(1000);
        }
        if let Some(mb) = self.machine.disk_mb_per_s {
            t.bytes_per_sec = mb.saturating_mul(1_000_000);
        }
        t
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration '{}'", path.display()))?;
        toml::from_str(&text).with_context(|| format!("bad configuration '{}'", path.display()))
    }

    /// RAM size, if given.
    pub fn mem_bytes(&self) -> Result<Option<u64>> {
        self.machine.mem.as_ref().map(Size::bytes).transpose()
    }

    /// Timing mode, if given.
    pub fn timing_mode(&self) -> Result<Option<TimingMode>> {
        match self.timing.mode.as_deref() {
            None => Ok(None),
            Some("fast") => Ok(Some(TimingMode::Fast)),
            Some("detailed") => Ok(Some(TimingMode::Detailed)),
            Some(other) => {
                anyhow::bail!("[timing] mode = \"{other}\": expected \"fast\" or \"detailed\"")
            }
        }
    }

    /// The timing model's parameters: the defaults with the file's overrides
    /// (`[machine] uma` makes every miss take the local latency).
    pub fn timing_config(&self) -> TimingConfig {
        let mut c = TimingConfig::default();
        let t = &self.timing;
        let set = |field: &mut u32, v: Option<u32>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut c.l1i_bytes, t.l1i_bytes);
        set(&mut c.l1d_bytes, t.l1d_bytes);
        set(&mut c.l1_ways, t.l1_ways);
        set(&mut c.l1_line, t.l1_line);
        set(&mut c.l2_bytes, t.l2_bytes);
        set(&mut c.l2_ways, t.l2_ways);
        set(&mut c.l2_line, t.l2_line);
        set(&mut c.l2_hit_ns, t.l2_hit_ns);
        set(&mut c.local_miss_ns, t.local_miss_ns);
        set(&mut c.remote_miss_ns, t.remote_miss_ns);
        set(&mut c.remote_dirty_ns, t.remote_dirty_ns);
        set(&mut c.mem_occupancy_ns, t.mem_occupancy_ns);
        if self.machine.uma.unwrap_or(false) {
            c = c.uma();
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let f: ConfigFile = toml::from_str(
            "[machine]\ncpus = 8\nnodes = 4\nmem = \"1G\"\ncpu_mhz = 200\ninterleave = true\nquantum = 5000\n\
             [timing]\nmode = \"detailed\"\nremote_miss_ns = 1200\n",
        )
        .unwrap();
        assert_eq!(f.machine.cpus, Some(8));
        assert_eq!(f.mem_bytes().unwrap(), Some(1 << 30));
        assert_eq!(f.timing_mode().unwrap(), Some(TimingMode::Detailed));
        let t = f.timing_config();
        assert_eq!(t.remote_miss_ns, 1200);
        assert_eq!(t.local_miss_ns, TimingConfig::default().local_miss_ns);
    }

    #[test]
    fn the_monitor_section_turns_patching_off() {
        let f: ConfigFile = toml::from_str("[monitor]\npatch = false\n").unwrap();
        assert_eq!(f.monitor.patch, Some(false));
        assert_eq!(ConfigFile::default().monitor.patch, None);
        assert!(toml::from_str::<ConfigFile>("[monitor]\npatch = 3\n").is_err());
    }

    #[test]
    fn uma_and_numa_tables() {
        let f: ConfigFile =
            toml::from_str("[machine]\numa = true\n[numa]\ntrigger = 64\nreplicate = false\n")
                .unwrap();
        let t = f.timing_config();
        assert_eq!((t.remote_miss_ns, t.remote_dirty_ns), (300, 300));
        assert_eq!(
            (f.numa.trigger, f.numa.replicate, f.numa.migrate),
            (64, false, true)
        );
        assert!(toml::from_str::<ConfigFile>("[numa]\ntriger = 3\n").is_err());
    }

    #[test]
    fn numeric_memory_sizes_are_bytes() {
        let f: ConfigFile = toml::from_str("[machine]\nmem = 268435456\n").unwrap();
        assert_eq!(f.mem_bytes().unwrap(), Some(256 << 20));
    }

    #[test]
    fn unknown_fields_and_bad_values_are_errors() {
        assert!(toml::from_str::<ConfigFile>("[machine]\ncpu = 8\n").is_err());
        assert!(toml::from_str::<ConfigFile>("[gpu]\n").is_err());
        let f: ConfigFile = toml::from_str("[timing]\nmode = \"slow\"\n").unwrap();
        assert!(f.timing_mode().is_err());
        let f: ConfigFile = toml::from_str("[machine]\nmem = \"lots\"\n").unwrap();
        assert!(f.mem_bytes().is_err());
    }
}
