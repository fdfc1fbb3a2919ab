//! Memory footprints of VMs and of the machine, as in the paper's Fig. 7:
//! the virtual footprint (V, what the VMs would need without sharing) and
//! the machine footprint (M, a shared page counted once), each split into
//! the kernel image, the buffer cache and other data, plus the monitor's
//! own structures.
//!
//! A guest page counts when it holds data (is not all zero). The monitor
//! backs guest memory by 16 MiB chunks on first touch, zeroed; a page the
//! guest never wrote stays zero and would not have been needed (Disco
//! allocated page by page). Linux does not zero the pages it frees, so a
//! freed page still counts: V is close to the guest's high-water mark.

use mips::PhysMem;
use serde::Serialize;

use crate::memory::memmap::{PageKind, SharedKind};
use crate::memory::pmap::{Pmap, PmapEntry};
use crate::memory::MachineMemory;

/// What a page holds, in Fig. 7's categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// The pages of the decompressed kernel image (text, read-only data
    /// and data: the paper's "kernel text", see docs/sharing.md).
    KernelImage,
    /// Pages mapped from the global disk cache (file data the guest read
    /// from a copy-on-write disk and has not written since).
    BufferCache,
    /// Everything else: kernel data structures, page tables, user memory,
    /// file data read by copying.
    Data,
}

/// Pages per category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Split {
    /// Kernel image pages.
    pub kernel_image: u64,
    /// Buffer cache pages.
    pub buffer_cache: u64,
    /// Other data.
    pub data: u64,
}

impl Split {
    fn add(&mut self, c: Category, n: u64) {
        match c {
            Category::KernelImage => self.kernel_image += n,
            Category::BufferCache => self.buffer_cache += n,
            Category::Data => self.data += n,
        }
    }

    /// All categories together.
    pub fn total(&self) -> u64 {
        self.kernel_image + self.buffer_cache + self.data
    }

    fn plus(mut self, o: &Split) -> Split {
        self.kernel_image += o.kernel_image;
        self.buffer_cache += o.buffer_cache;
        self.data += o.data;
        self
    }

    fn minus(mut self, o: &Split) -> Split {
        self.kernel_image -= o.kernel_image;
        self.buffer_cache -= o.buffer_cache;
        self.data -= o.data;
        self
    }
}

/// A VM's memory footprint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// Guest pages backed by machine memory (zero or not).
    pub pages_backed: u64,
    /// Of those, pages mapped from a shared machine page.
    pub pages_shared: u64,
    /// Guest pages holding data, by category: its virtual footprint (V).
    pub used: Split,
    /// Of those, pages mapped from a shared machine page, by category.
    pub shared: Split,
    /// The shared machine pages behind `shared`, with their category (to
    /// count each once over the VMs).
    #[serde(skip)]
    pub shared_machine: Vec<(u64, Category)>,
}

impl Footprint {
    /// The footprint of the pages `pmap` backs, the guest pages `kernel`
    /// holding the VM's kernel image.
    pub fn of(
        pmap: &Pmap,
        memory: &MachineMemory,
        mem: &PhysMem,
        kernel: Option<(u64, u64)>,
    ) -> Self {
        let cache = |page: u64| {
            matches!(
                memory.memmap.kind(page),
                PageKind::Shared(SharedKind::DiskCache { .. })
            )
        };
        Self::walk(mem, kernel, pmap.entries(), cache)
    }

    /// The footprint of a bare machine's RAM `mem`, its kernel image at
    /// pages `kernel` (no page is shared; nothing tells buffer-cache pages
    /// from other data).
    pub fn bare(mem: &PhysMem, kernel: Option<(u64, u64)>) -> Self {
        let pages = (0..mem.size() >> 12).map(|p| (p, PmapEntry::new(p)));
        Self::walk(mem, kernel, pages, |_| false)
    }

    /// Counts `pages` (guest page, entry) that hold data, by category;
    /// `cache` tells the machine pages of the global disk cache.
    fn walk(
        mem: &PhysMem,
        kernel: Option<(u64, u64)>,
        pages: impl Iterator<Item = (u64, PmapEntry)>,
        cache: impl Fn(u64) -> bool,
    ) -> Self {
        let mut f = Footprint::default();
        let ram = mem.as_slice();
        for (guest_page, e) in pages {
            f.pages_backed += 1;
            let shared = !e.writable();
            f.pages_shared += u64::from(shared);
            let at = (e.machine_page << 12) as usize;
            let zero = ram
                .get(at..at + 4096)
                .is_none_or(|p| p.iter().all(|&b| b == 0));
            if zero {
                continue;
            }
            let category = if cache(e.machine_page) {
                Category::BufferCache
            } else if kernel.is_some_and(|(a, b)| (a..b).contains(&guest_page)) {
                Category::KernelImage
            } else {
                Category::Data
            };
            f.used.add(category, 1);
            if shared {
                f.shared.add(category, 1);
                f.shared_machine.push((e.machine_page, category));
            }
        }
        f
    }
}

/// Bytes of the monitor's own structures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MonitorBytes {
    /// The VMs' pmaps.
    pub pmaps: u64,
    /// The memmap (kind and users of every machine page).
    pub memmap: u64,
    /// The global disk cache's index.
    pub disk_cache: u64,
    /// The table of kernel-image pages offered for sharing.
    pub kernel_table: u64,
}

impl MonitorBytes {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.pmaps + self.memmap + self.disk_cache + self.kernel_table
    }
}

/// The machine's footprint over all VMs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MachineFootprint {
    /// What the VMs' data would take without sharing (sum of their V).
    pub virtual_pages: Split,
    /// The machine pages behind it (a shared page counted once).
    pub machine_pages: Split,
    /// The monitor's own structures, bytes.
    pub monitor: MonitorBytes,
}

impl MachineFootprint {
    /// Sums the VMs' footprints `vms`, counting each shared machine page
    /// once; `monitor` is the size of the monitor's structures.
    pub fn of<'a>(vms: impl IntoIterator<Item = &'a Footprint>, monitor: MonitorBytes) -> Self {
        let mut f = MachineFootprint {
            monitor,
            ..Default::default()
        };
        let mut shared = std::collections::BTreeMap::new();
        for vm in vms {
            f.virtual_pages = f.virtual_pages.plus(&vm.used);
            f.machine_pages = f.machine_pages.plus(&vm.used.minus(&vm.shared));
            for &(page, c) in &vm.shared_machine {
                shared.entry(page).or_insert(c);
            }
        }
        for c in shared.into_values() {
            f.machine_pages.add(c, 1);
        }
        f
    }

    /// Machine pages over virtual pages, the monitor's structures included
    /// in the machine side (Fig. 7's M/V).
    pub fn ratio(&self) -> f64 {
        let v = self.virtual_pages.total();
        let m = self.machine_pages.total() as f64 + self.monitor.total() as f64 / 4096.0;
        if v == 0 {
            0.0
        } else {
            m / v as f64
        }
    }
}

/// The footprint report of the VMs `vms` (name, footprint) and of the
/// machine, in MiB: V and M per category, as in Fig. 7.
pub fn table<'a>(
    vms: impl IntoIterator<Item = (&'a str, &'a Footprint)>,
    m: &MachineFootprint,
) -> String {
    use std::fmt::Write;
    let mib = |pages: u64| pages as f64 * 4096.0 / f64::from(1 << 20);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<14} {:>6} {:>12} {:>12} {:>12} {:>9} {:>9}",
        "footprint MiB", "", "kernel image", "buffer cache", "other data", "monitor", "total"
    );
    let mut row = |name: &str, what: &str, s: &Split, monitor: Option<f64>| {
        let total = mib(s.total()) + monitor.unwrap_or(0.0);
        let monitor = monitor.map_or(String::new(), |b| format!("{b:.1}"));
        let _ = writeln!(
            t,
            "{:<14} {:>6} {:>12.1} {:>12.1} {:>12.1} {:>9} {:>9.1}",
            name,
            what,
            mib(s.kernel_image),
            mib(s.buffer_cache),
            mib(s.data),
            monitor,
            total
        );
    };
    for (name, f) in vms {
        row(name, "V", &f.used, None);
        row("", "shared", &f.shared, None);
    }
    row("machine", "V", &m.virtual_pages, None);
    let monitor = m.monitor.total() as f64 / f64::from(1 << 20);
    row("", "M", &m.machine_pages, Some(monitor));
    let _ = writeln!(
        t,
        "M/V = {:.2} (paper, 8 VMs: 38 MB / 77 MB = 0.49)",
        m.ratio()
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::kernel::Candidate;
    use crate::memory::memmap::PageUser;

    #[test]
    fn shared_pages_count_once_on_the_machine_and_zero_pages_not_at_all() {
        let (mut mem, mut mm, [mut a, mut b]) = crate::memory::two_vms(16 << 20);
        // Data in guest pages 0x100 (kernel image) and 0x800 (other) of
        // both; a disk-cache page at 0x900 of both; the rest stays zero.
        for pmap in [&a, &b] {
            for page in [0x100, 0x800] {
                let pa = pmap.entry(page).unwrap().machine_page << 12;
                mem.write_u32(pa, 7).unwrap();
            }
        }
        let cache = mm.alloc_page(&mut mem, 0).unwrap();
        mem.write_u32(cache << 12, 1).unwrap();
        mm.memmap
            .make_shared(cache, SharedKind::DiskCache { disk: 0, sector: 0 });
        mm.map_shared(&mut a, 0, 0x900, cache);
        mm.map_shared(&mut b, 1, 0x900, cache);
        // VM b shares a's kernel page.
        let ka = a.entry(0x100).unwrap().machine_page;
        let owner = PageUser {
            vm: 0,
            guest_page: 0x100,
        };
        mm.share_offered(Candidate { page: ka, owner }, 1);
        a.remap(0x100, PmapEntry::read_only(ka));
        mm.map_shared(&mut b, 1, 0x100, ka);

        let image = Some((0x100, 0x200));
        let fa = Footprint::of(&a, &mm, &mem, image);
        let fb = Footprint::of(&b, &mm, &mem, image);
        let each = Split {
            kernel_image: 1,
            buffer_cache: 1,
            data: 1,
        };
        assert_eq!((fa.used, fb.used), (each, each));
        assert_eq!(fa.pages_backed, 4096);
        assert_eq!(fb.shared.total(), 2);
        let m = MachineFootprint::of([&fa, &fb], MonitorBytes::default());
        assert_eq!(
            m.virtual_pages,
            Split {
                kernel_image: 2,
                buffer_cache: 2,
                data: 2
            }
        );
        assert_eq!(
            m.machine_pages,
            each.plus(&Split {
                data: 1,
                ..Split::default()
            })
        );
        assert!((m.ratio() - 4.0 / 6.0).abs() < 1e-9);
    }
}
