//! Command-line interface definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Disco: a simulated FLASH-like MIPS64 machine that boots stock Debian Linux.
#[derive(Debug, Parser)]
#[command(name = "disco", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Boot a kernel on the simulated machine (default: the Debian guest,
    /// fetched if missing) and attach its console, or run one command.
    Run(Box<RunArgs>),
    /// Run the virtual machines a configuration file describes on the Disco
    /// monitor, each with its own console.
    Up(Box<crate::up::UpArgs>),
    /// Run an experiment of the paper (a set of `disco run`s, cached) and
    /// write its JSON and plot; `disco experiment list` lists them.
    Experiment(Box<crate::experiment::ExperimentArgs>),
    /// Fetch and build the default Debian guest images into the cache
    /// (with --rootfs: the Debian root disk too).
    Fetch {
        /// Fetch again even if the images are cached.
        #[arg(long)]
        force: bool,
        /// Also build the Debian root disk (gcc, POV-Ray, Icarus Verilog,
        /// SQLite, the NFS server, the workloads): ~160 MB of packages.
        #[arg(long)]
        rootfs: bool,
    },
}

/// Options of `disco run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Machine configuration file (TOML); the options below override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// RAM size, e.g. 512M or 1G (suffixes K, M, G; plain numbers are bytes).
    /// Default 512M.
    #[arg(long, value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub mem: Option<u64>,
    /// Kernel to boot: an ELF64 little-endian MIPS image (default: Debian's).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Initramfs to pass to the kernel (default: the one built for Debian's busybox).
    #[arg(long, value_name = "PATH")]
    pub initrd: Option<PathBuf>,
    /// Put a host file into the guest (repeatable): HOST[:GUEST], the guest
    /// path defaulting to /bin/<file name>. Needs an initrd.
    #[arg(long = "add", value_name = "HOST[:GUEST]", value_parser = crate::addfiles::parse_add)]
    pub add: Vec<crate::addfiles::AddedFile>,
    /// Attach a disk (repeatable): a raw image file on the host, a whole
    /// number of 512-byte sectors; `,ro` makes it read-only, `,cow`
    /// copy-on-write (the file is never modified; the guest's writes are
    /// dropped when it ends). The guest sees virtio block devices
    /// /dev/vda, /dev/vdb, ... in order.
    #[arg(long = "disk", value_name = "PATH[,ro|,cow]", value_parser = crate::disks::parse_disk)]
    pub disks: Vec<machine::virtio::DiskConfig>,
    /// Boot from the Debian root disk (gcc, POV-Ray, Icarus Verilog, SQLite,
    /// the workloads; built with `disco fetch --rootfs` if missing): it is
    /// /dev/vda, copy-on-write: mounted read-write, the image file never
    /// changes, the guest's writes are dropped when it ends.
    #[arg(long, conflicts_with_all = ["kernel", "initrd"])]
    pub rootfs: bool,
    /// Extra kernel command-line arguments, appended to the defaults.
    #[arg(long, value_name = "ARGS")]
    pub append: Option<String>,
    /// Run this shell command in the guest instead of an interactive shell;
    /// its output is streamed and disco exits with its exit status.
    #[arg(long, value_name = "SHELL COMMAND")]
    pub exec: Option<String>,
    /// CPU clock in MHz (CP0 Count runs at half this rate). Default 400.
    #[arg(long, value_name = "MHZ", value_parser = clap::value_parser!(u32).range(1..=4000))]
    pub cpu_mhz: Option<u32>,
    /// Trace events to stderr, comma-separated: exc (exceptions), tlb (TLB
    /// writes), dev (device accesses), mmio (CPU device accesses), insn (every
    /// instruction; very slow), monitor (traps to the monitor, with --vm).
    #[arg(long, value_name = "EVENTS", value_delimiter = ',')]
    pub trace: Vec<TraceEvent>,
    /// Number of CPUs (1..=16). Default 1.
    #[arg(long, value_name = "N")]
    pub cpus: Option<u32>,
    /// Number of NUMA nodes (default: one per CPU, as on FLASH).
    #[arg(long, value_name = "M")]
    pub nodes: Option<u32>,
    /// Interleave memory pages round-robin across the nodes instead of
    /// giving each node one consecutive range.
    #[arg(long)]
    pub interleave: bool,
    /// Board-level (L2) cache size of every CPU, e.g. 256K (default 1M,
    /// the paper's; its Raytrace runs used 256K).
    #[arg(long, value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub l2: Option<u64>,
    /// A uniform-memory machine (the paper's "optimistic UMA", §5.5): every
    /// cache miss takes the local latency, wherever its home is.
    #[arg(long)]
    pub uma: bool,
    /// Cycles each CPU runs before the next takes its turn. Default 10000.
    #[arg(long, value_name = "CYCLES")]
    pub quantum: Option<u64>,
    /// Timing mode to start in: fast (one cycle per instruction, the
    /// default) or detailed (caches, coherence, NUMA latency). The guest can
    /// switch with the simulation-control device.
    #[arg(long, value_name = "MODE")]
    pub timing: Option<TimingArg>,
    /// Print a statistics table on exit (per CPU: time split, stalls, misses;
    /// the pages with the most misses).
    #[arg(long)]
    pub stats: bool,
    /// Write all statistics, with the per-page per-node miss counters, as JSON.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Write the memory footprint at the end of the run as JSON (Fig. 7:
    /// pages holding data per category; with --vm also what is shared and
    /// the machine footprint) and print it as a table.
    #[arg(long, value_name = "FILE")]
    pub memory_report: Option<PathBuf>,
    /// Attribute kernel time to kernel services (system calls, TLB refills,
    /// page faults, interrupts: what entered the kernel from user mode until
    /// it returned), as in the paper's Table 2; --stats prints the top 10
    /// (with --vm, split into kernel, TLB writes, other privileged
    /// instructions, monitor services and kernel TLB faults), --stats-json
    /// writes them all. Changes no simulated time.
    #[arg(long)]
    pub services: bool,
    /// Stop after this many simulated seconds (exit status 124).
    #[arg(long, value_name = "SECONDS")]
    pub max_time: Option<f64>,
    /// Show the kernel's boot messages with --exec (normally hidden unless the
    /// boot fails).
    #[arg(long)]
    pub show_boot: bool,
    /// Boot until the guest is ready for a command, save the whole machine
    /// to FILE and exit. Run commands on it with --restore.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["exec", "disks"])]
    pub save_checkpoint: Option<PathBuf>,
    /// Start from a checkpoint saved with --save-checkpoint instead of
    /// booting: run --exec's command on it, or attach the console. The
    /// machine is the saved one; statistics count from the restore.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "config", "mem", "kernel", "initrd", "add", "append", "cpu_mhz", "cpus", "disks",
        "nodes", "interleave", "uma", "l2", "quantum", "save_checkpoint",
    ])]
    pub restore: Option<PathBuf>,
    /// Run the guest in a virtual machine on the Disco monitor instead of
    /// on the bare machine: the VM gets --mem of memory (a multiple of 16M)
    /// and --vcpus virtual CPUs; --cpus sets the machine's physical CPUs.
    #[arg(long, conflicts_with_all = ["save_checkpoint", "restore"])]
    pub vm: bool,
    /// With --vm: virtual CPUs of the VM (1 to 16; default 1). More than
    /// one gives the VM a virtual Coherence Manager, CPC and GIC, as the
    /// multiprocessor machine has. They may outnumber --cpus.
    #[arg(long, requires = "vm", value_name = "N", default_value_t = 1)]
    pub vcpus: u32,
    /// With --vm: never rewrite privileged instructions, so that every one
    /// traps to the monitor every time (pure trap-and-emulate).
    #[arg(long, requires = "vm")]
    pub no_patch: bool,
    /// With --vm: share no memory between VMs: copy-on-write disks' pages
    /// are never mapped from the global disk cache (every read is copied)
    /// and kernel images are not shared (to measure what sharing costs).
    #[arg(long, requires = "vm")]
    pub no_sharing: bool,
    /// With --vm: do not share the pages of the decompressed kernel image
    /// between VMs booting the same kernel (see docs/sharing.md).
    #[arg(long, requires = "vm")]
    pub no_kernel_sharing: bool,
    /// With --vm: multiply every entry of the monitor's cost table by F
    /// (the costs are estimates: this shows how much a result depends on them).
    #[arg(long, requires = "vm", value_name = "F", value_parser = crate::run::parse_cost_scale)]
    pub cost_scale: Option<f64>,
    /// With --vm: the NUMA policy.
    #[command(flatten)]
    pub numa: NumaArgs,
}

/// The NUMA policy's options (`disco run --vm`, `disco up`).
#[derive(Debug, Args, Default)]
pub struct NumaArgs {
    /// NUMA policy (§4.2.3): on (migrate and replicate hot pages; the
    /// default), off, migrate (only), replicate (only). It acts in detailed
    /// timing only, where the machine counts misses (docs/numa.md).
    #[arg(long, value_name = "MODE")]
    pub numa: Option<NumaMode>,
    /// Set a NUMA policy parameter (repeatable), as in the `[numa]` table:
    /// trigger, sharing, write, move_limit, reset_interval_ms,
    /// freeze_after, freeze_intervals, min_free_percent, kernel_image.
    #[arg(long = "numa-set", value_name = "KEY=VALUE")]
    pub numa_set: Vec<String>,
}

impl NumaArgs {
    /// True when an option was given.
    pub fn given(&self) -> bool {
        self.numa.is_some() || !self.numa_set.is_empty()
    }

    /// `base` (the configuration file's `[numa]`) with these options
    /// applied, checked.
    pub fn apply(
        &self,
        mut base: monitor::numa::NumaConfig,
    ) -> anyhow::Result<monitor::numa::NumaConfig> {
        if let Some(mode) = self.numa {
            let (migrate, replicate) = match mode {
                NumaMode::On => (true, true),
                NumaMode::Off => (false, false),
                NumaMode::Migrate => (true, false),
                NumaMode::Replicate => (false, true),
            };
            base.migrate = migrate;
            base.replicate = replicate;
        }
        for kv in &self.numa_set {
            let Some((k, v)) = kv.split_once('=') else {
                anyhow::bail!("--numa-set {kv:?}: expected KEY=VALUE");
            };
            base.set(k.trim(), v.trim()).map_err(anyhow::Error::msg)?;
        }
        base.validate().map_err(anyhow::Error::msg)?;
        Ok(base)
    }
}

/// NUMA policy modes on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NumaMode {
    /// Migrate and replicate.
    On,
    /// Neither.
    Off,
    /// Migrate only.
    Migrate,
    /// Replicate only.
    Replicate,
}

/// Timing modes on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TimingArg {
    /// One cycle per instruction.
    Fast,
    /// Caches, coherence and NUMA memory latency.
    Detailed,
}

/// Selectable trace events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceEvent {
    /// Exceptions taken (cause, EPC, BadVAddr).
    Exc,
    /// TLB entries written.
    Tlb,
    /// Device register accesses, as the devices see them.
    Dev,
    /// CPU accesses to device space, with physical addresses.
    Mmio,
    /// Every instruction executed, disassembled (very slow).
    Insn,
    /// The monitor's traps and what it did about them (with --vm).
    Monitor,
    /// Memory sharing: each disk page mapped from the global disk cache or
    /// read into it, each copy-on-write fault (VM, guest page, machine
    /// pages old -> new), each shootdown.
    Cow,
    /// The NUMA policy: every hot page (its counters, the decision, the
    /// nodes, the cost), every replica collapse and freeze.
    Numa,
}
