//! The virtio-mmio register interface, version 2 (virtio 1.x §4.2.2).
//!
//! Register writes only record work; the owner of guest memory calls
//! [`VirtioMmio::process`] when [`VirtioMmio::has_work`] says a queue was
//! notified, and [`VirtioMmio::complete_due`] when simulated time reaches
//! [`VirtioMmio::next_event_ns`]. When the driver breaks a ring the device
//! enters the virtio `DEVICE_NEEDS_RESET` state and raises a configuration
//! interrupt: the guest is told, the device stops using the queues, and
//! nothing outside that guest is affected.

use std::collections::VecDeque;

#[cfg(test)]
use super::block::DiskMode;
use super::block::{BlockDevice, DiskConfig, DiskError, DiskTiming};
use super::net::{NetDevice, HEADER, MAX_FRAME};
use super::queue::{Virtqueue, QUEUE_SIZE_MAX};
use super::DmaMemory;
use crate::device::{DeviceError, MmioDevice};

/// Size of a virtio-mmio register window.
pub const VIRTIO_WINDOW_SIZE: u64 = 0x200;
/// "virt" in little-endian.
const MAGIC: u32 = 0x7472_6976;
/// Vendor ID reported to the guest ("DSCO").
const VENDOR: u32 = 0x4f43_5344;
/// Feature bit: virtio 1.x (required by the version-2 transport).
pub const F_VERSION_1: u64 = 1 << 32;

/// Device status bits.
const S_FEATURES_OK: u32 = 8;
const S_DRIVER_OK: u32 = 4;
const S_NEEDS_RESET: u32 = 0x40;

/// Interrupt status: a used buffer was posted / the configuration changed.
const INT_VRING: u32 = 1;
const INT_CONFIG: u32 = 2;

/// What is behind the transport.
#[derive(Debug)]
pub enum Backend {
    /// A disk.
    Block(BlockDevice),
    /// A network interface.
    Net(NetDevice),
}

/// The network device's receive and transmit queues.
const NET_RX: usize = 0;
const NET_TX: usize = 1;

impl Backend {
    fn device_id(&self) -> u32 {
        match self {
            Backend::Block(_) => 2,
            Backend::Net(_) => 1,
        }
    }

    fn queues(&self) -> usize {
        match self {
            Backend::Block(_) => 1,
            Backend::Net(_) => 2,
        }
    }

    fn features(&self) -> u64 {
        F_VERSION_1
            | match self {
                Backend::Block(b) => b.features(),
                Backend::Net(n) => n.features(),
            }
    }

    fn config(&self) -> Vec<u8> {
        match self {
            Backend::Block(b) => b.config().to_vec(),
            Backend::Net(n) => n.config().to_vec(),
        }
    }

    fn reset(&mut self) {
        match self {
            Backend::Block(b) => b.reset(),
            Backend::Net(n) => n.reset(),
        }
    }
}

/// A completion waiting for its simulated time.
#[derive(Debug, Clone, Copy)]
struct Pending {
    due_ns: u64,
    queue: usize,
    head: u16,
    written: u32,
}

/// A virtio device on the MMIO transport.
#[derive(Debug)]
pub struct VirtioMmio {
    backend: Backend,
    queues: Vec<Virtqueue>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    interrupt_status: u32,
    config_generation: u32,
    /// Queues notified since the last [`VirtioMmio::process`] (bit mask).
    notified: u32,
    pending: VecDeque<Pending>,
    /// Why the device needs a reset, once the driver broke a ring.
    failure: Option<String>,
}

impl VirtioMmio {
    /// A device in its reset state around `backend`.
    pub fn new(backend: Backend) -> Self {
        let queues = vec![Virtqueue::default(); backend.queues()];
        VirtioMmio {
            backend,
            queues,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            interrupt_status: 0,
            config_generation: 0,
            notified: 0,
            pending: VecDeque::new(),
            failure: None,
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The backend, to exchange frames with a network device.
    pub fn backend_mut(&mut self) -> &mut Backend {
        &mut self.backend
    }

    /// Why the device stopped (the driver broke a ring), if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// A queue was notified, or frames wait for a receive queue the driver
    /// enabled: call [`VirtioMmio::process`].
    pub fn has_work(&self) -> bool {
        self.notified != 0
            || matches!(&self.backend, Backend::Net(n) if n.has_inbox()
                && self.usable() && self.queues[NET_RX].ready)
    }

    /// Simulated time of the next completion, ns.
    pub fn next_event_ns(&self) -> Option<u64> {
        self.pending.front().map(|p| p.due_ns)
    }

    /// Back to the reset state (the driver wrote 0 to Status): queued
    /// completions are dropped, nothing more is written to guest memory.
    fn reset(&mut self) {
        for q in &mut self.queues {
            q.reset();
        }
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.interrupt_status = 0;
        self.notified = 0;
        self.pending.clear();
        self.failure = None;
        self.backend.reset();
    }

    /// Stops the device: the driver broke a ring.
    fn fail(&mut self, why: String) {
        tracing::debug!(target: "machine::virtio", "device needs reset: {why}");
        self.failure = Some(why);
        self.status |= S_NEEDS_RESET;
        self.interrupt_status |= INT_CONFIG;
        self.config_generation = self.config_generation.wrapping_add(1);
        self.notified = 0;
        self.pending.clear();
    }

    fn usable(&self) -> bool {
        self.status & S_DRIVER_OK != 0 && self.failure.is_none()
    }

    /// Serves the requests of every notified queue at simulated time
    /// `now_ns` (and, on a network device, hands waiting frames to the
    /// guest's receive buffers).
    pub fn process(&mut self, mem: &mut dyn DmaMemory, now_ns: u64) {
        let notified = std::mem::take(&mut self.notified);
        if matches!(self.backend, Backend::Net(_)) {
            return self.process_net(mem, notified, now_ns);
        }
        for q in 0..self.queues.len() {
            if notified & (1 << q) == 0 || !self.usable() || !self.queues[q].ready {
                continue;
            }
            loop {
                let chain = match self.queues[q].pop(mem) {
                    Ok(Some(chain)) => chain,
                    Ok(None) => break,
                    Err(e) => return self.fail(format!("queue {q}: {e}")),
                };
                let Backend::Block(b) = &mut self.backend else {
                    return;
                };
                let served = b.serve(mem, &chain, now_ns);
                match served {
                    Ok(s) => self.pending.push_back(Pending {
                        due_ns: s.due_ns,
                        queue: q,
                        head: chain.head,
                        written: s.written,
                    }),
                    Err(e) => return self.fail(format!("queue {q}: {e}")),
                }
            }
        }
    }

    /// A network device's work: send what the driver queued for
    /// transmission, fill receive buffers with waiting frames. Both complete
    /// at once (the wire's latency is the owner's).
    fn process_net(&mut self, mem: &mut dyn DmaMemory, notified: u32, now_ns: u64) {
        if !self.usable() {
            return;
        }
        if notified & (1 << NET_TX) != 0 && self.queues[NET_TX].ready {
            loop {
                let chain = match self.queues[NET_TX].pop(mem) {
                    Ok(Some(chain)) => chain,
                    Ok(None) => break,
                    Err(e) => return self.fail(format!("transmit queue: {e}")),
                };
                let len = chain.readable_len().min((HEADER + MAX_FRAME + 1) as u64) as usize;
                let mut bytes = vec![0u8; len];
                let Backend::Net(n) = &mut self.backend else {
                    return;
                };
                match chain.read(mem, 0, &mut bytes) {
                    Ok(()) => n.sent(&bytes),
                    Err(_) => n.stats.dropped += 1,
                }
                self.pending.push_back(Pending {
                    due_ns: now_ns,
                    queue: NET_TX,
                    head: chain.head,
                    written: 0,
                });
            }
        }
        if !self.queues[NET_RX].ready {
            return;
        }
        loop {
            let Backend::Net(n) = &mut self.backend else {
                return;
            };
            if !n.has_inbox() {
                break;
            }
            let chain = match self.queues[NET_RX].pop(mem) {
                Ok(Some(chain)) => chain,
                Ok(None) => break,
                Err(e) => return self.fail(format!("receive queue: {e}")),
            };
            let Backend::Net(n) = &mut self.backend else {
                return;
            };
            let frame = n.next_inbox().unwrap_or_default();
            let mut bytes = vec![0u8; HEADER];
            bytes[10] = 1; // num_buffers
            bytes.extend_from_slice(&frame);
            let written = if chain.writable_len() >= bytes.len() as u64
                && chain.write(mem, 0, &bytes).is_ok()
            {
                n.stats.received += 1;
                bytes.len() as u32
            } else {
                n.stats.dropped += 1;
                0
            };
            self.pending.push_back(Pending {
                due_ns: now_ns,
                queue: NET_RX,
                head: chain.head,
                written,
            });
        }
    }

    /// Serves notified queues, then posts the completions due by `now_ns`:
    /// what an owner calls when [`VirtioMmio::has_work`] or
    /// [`VirtioMmio::next_event_ns`] says so.
    pub fn service(&mut self, mem: &mut dyn DmaMemory, now_ns: u64) {
        if self.has_work() {
            self.process(mem, now_ns);
        }
        self.complete_due(mem, now_ns);
    }

    /// True when [`VirtioMmio::service`] has something to do at `now_ns`.
    pub fn is_due(&self, now_ns: u64) -> bool {
        self.has_work() || self.next_event_ns().is_some_and(|t| t <= now_ns)
    }

    /// A block device on the disk image `disk`.
    pub fn disk(disk: &DiskConfig, timing: DiskTiming) -> Result<Self, DiskError> {
        let blk = BlockDevice::open(&disk.path, disk.mode, timing)?;
        Ok(VirtioMmio::new(Backend::Block(blk)))
    }

    /// Posts every completion due by `now_ns`; raises the interrupt.
    pub fn complete_due(&mut self, mem: &mut dyn DmaMemory, now_ns: u64) {
        while let Some(p) = self.pending.front().copied() {
            if p.due_ns > now_ns {
                break;
            }
            self.pending.pop_front();
            if let Err(e) = self.queues[p.queue].push_used(mem, p.head, p.written) {
                return self.fail(format!("queue {}: {e}", p.queue));
            }
            self.interrupt_status |= INT_VRING;
        }
    }

    fn selected(&mut self) -> Option<&mut Virtqueue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    fn read_register(&mut self, offset: u64) -> Result<u32, DeviceError> {
        let features = self.backend.features();
        Ok(match offset {
            0x00 => MAGIC,
            0x04 => 2,
            0x08 => self.backend.device_id(),
            0x0c => VENDOR,
            0x10 => match self.device_features_sel {
                0 => features as u32,
                1 => (features >> 32) as u32,
                _ => 0,
            },
            0x34 => self.selected().map_or(0, |_| u32::from(QUEUE_SIZE_MAX)),
            0x44 => self.selected().map_or(0, |q| u32::from(q.ready)),
            0x60 => self.interrupt_status,
            0x70 => self.status,
            0xfc => self.config_generation,
            _ => return Err(DeviceError),
        })
    }

    fn write_register(&mut self, offset: u64, v: u32) -> Result<(), DeviceError> {
        match offset {
            0x14 => self.device_features_sel = v,
            0x20 => match self.driver_features_sel {
                0 => self.driver_features = (self.driver_features & !0xffff_ffff) | u64::from(v),
                1 => {
                    self.driver_features =
                        (self.driver_features & 0xffff_ffff) | (u64::from(v) << 32)
                }
                _ => {}
            },
            0x24 => self.driver_features_sel = v,
            0x30 => self.queue_sel = v,
            0x38 => self.with_idle_queue(|q| q.size = v.min(u32::from(u16::MAX)) as u16),
            0x44 => {
                if let Some(q) = self.selected() {
                    if v == 0 {
                        q.ready = false;
                    } else if let Err(e) = q.check_size() {
                        let which = self.queue_sel;
                        self.fail(format!("queue {which}: {e}"));
                    } else {
                        q.ready = true;
                    }
                }
            }
            0x50 => {
                if (v as usize) < self.queues.len() && self.usable() {
                    self.notified |= 1 << v;
                }
            }
            0x64 => self.interrupt_status &= !v,
            0x70 => self.write_status(v),
            0x80 => self.with_idle_queue(|q| set_low(&mut q.desc, v)),
            0x84 => self.with_idle_queue(|q| set_high(&mut q.desc, v)),
            0x90 => self.with_idle_queue(|q| set_low(&mut q.avail, v)),
            0x94 => self.with_idle_queue(|q| set_high(&mut q.avail, v)),
            0xa0 => self.with_idle_queue(|q| set_low(&mut q.used, v)),
            0xa4 => self.with_idle_queue(|q| set_high(&mut q.used, v)),
            _ => return Err(DeviceError),
        }
        Ok(())
    }

    /// Applies `f` to the selected queue unless it is enabled (its
    /// configuration is then frozen).
    fn with_idle_queue(&mut self, f: impl FnOnce(&mut Virtqueue)) {
        if let Some(q) = self.selected().filter(|q| !q.ready) {
            f(q);
        }
    }

    fn write_status(&mut self, v: u32) {
        if v == 0 {
            self.reset();
            return;
        }
        let mut v = v & 0xff & !S_NEEDS_RESET;
        if v & S_FEATURES_OK != 0 && self.status & S_FEATURES_OK == 0 {
            let offered = self.backend.features();
            let ok =
                self.driver_features & !offered == 0 && self.driver_features & F_VERSION_1 != 0;
            if !ok {
                // The device refuses the features: FEATURES_OK stays clear.
                v &= !S_FEATURES_OK;
            }
        }
        self.status = v | (self.status & S_NEEDS_RESET);
    }
}

fn set_low(field: &mut u64, v: u32) {
    *field = (*field & !0xffff_ffff) | u64::from(v);
}

fn set_high(field: &mut u64, v: u32) {
    *field = (*field & 0xffff_ffff) | (u64::from(v) << 32);
}

impl MmioDevice for VirtioMmio {
    fn read(&mut self, offset: u64, size: u8, _now_ns: u64) -> Result<u64, DeviceError> {
        if offset >= 0x100 {
            let config = self.backend.config();
            let start = (offset - 0x100) as usize;
            let end = start + usize::from(size);
            let bytes = config.get(start..end).ok_or(DeviceError)?;
            let mut v = [0u8; 8];
            v[..bytes.len()].copy_from_slice(bytes);
            return Ok(u64::from_le_bytes(v));
        }
        if size != 4 {
            return Err(DeviceError);
        }
        self.read_register(offset).map(u64::from)
    }

    fn write(
        &mut self,
        offset: u64,
        size: u8,
        value: u64,
        _now_ns: u64,
    ) -> Result<(), DeviceError> {
        if offset >= 0x100 {
            // Block and network configuration is read-only.
            return Err(DeviceError);
        }
        if size != 4 {
            return Err(DeviceError);
        }
        self.write_register(offset, value as u32)
    }

    fn irq_level(&self) -> bool {
        self.interrupt_status != 0
    }

    fn name(&self) -> &'static str {
        "virtio"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::virtio::block::DiskTiming;
    use crate::virtio::queue::tests::{make_available, put_desc, AVAIL, DESC, USED};
    use crate::virtio::testmem::TestMem;

    fn disk_device() -> (std::path::PathBuf, VirtioMmio) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "disco-mmio-test-{}-{}.img",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let data: Vec<u8> = (0..4096u32).map(|i| (i / 512) as u8 + 1).collect();
        std::fs::write(&path, data).unwrap();
        let blk = BlockDevice::open(&path, DiskMode::ReadWrite, DiskTiming::default()).unwrap();
        (path, VirtioMmio::new(Backend::Block(blk)))
    }

    fn w(d: &mut VirtioMmio, off: u64, v: u32) {
        MmioDevice::write(d, off, 4, u64::from(v), 0).unwrap();
    }

    fn r(d: &mut VirtioMmio, off: u64) -> u32 {
        MmioDevice::read(d, off, 4, 0).unwrap() as u32
    }

    /// The Linux driver's initialisation sequence, queue 0 of 8 entries.
    fn initialise(d: &mut VirtioMmio) {
        w(d, 0x70, 0);
        w(d, 0x70, 1); // ACKNOWLEDGE
        w(d, 0x70, 3); // DRIVER
        w(d, 0x14, 1);
        assert_eq!(r(d, 0x10), 1, "VERSION_1 offered");
        w(d, 0x24, 1);
        w(d, 0x20, 1);
        w(d, 0x24, 0);
        w(d, 0x20, (F_FLUSH_BIT) as u32);
        w(d, 0x70, 3 | 8);
        assert_ne!(r(d, 0x70) & 8, 0, "features accepted");
        w(d, 0x30, 0);
        assert_eq!(r(d, 0x34), 256);
        w(d, 0x38, 8);
        w(d, 0x80, DESC as u32);
        w(d, 0x84, 0);
        w(d, 0x90, AVAIL as u32);
        w(d, 0xa0, USED as u32);
        w(d, 0x44, 1);
        w(d, 0x70, 3 | 8 | 4);
    }

    const F_FLUSH_BIT: u64 = crate::virtio::block::F_FLUSH;

    /// A read of sector 1 into 0x5000, status at 0x6000.
    fn read_request(mem: &mut TestMem) {
        let mut h = [0u8; 16];
        h[8..16].copy_from_slice(&1u64.to_le_bytes());
        mem.put(0x4000, &h);
        put_desc(mem, 0, 0x4000, 16, 1, 1);
        put_desc(mem, 1, 0x5000, 512, 1 | 2, 2);
        put_desc(mem, 2, 0x6000, 1, 2, 0);
        make_available(mem, 0, &[0]);
    }

    #[test]
    fn identifies_as_a_virtio_block_device() {
        let (p, mut d) = disk_device();
        assert_eq!(r(&mut d, 0), MAGIC);
        assert_eq!(r(&mut d, 4), 2);
        assert_eq!(r(&mut d, 8), 2);
        // Capacity in the configuration space, read as bytes or a word.
        assert_eq!(MmioDevice::read(&mut d, 0x100, 8, 0).unwrap(), 8);
        assert_eq!(MmioDevice::read(&mut d, 0x100, 1, 0).unwrap(), 8);
        assert!(MmioDevice::read(&mut d, 0x100 + 24, 4, 0).is_err());
        assert!(
            MmioDevice::read(&mut d, 0x02, 2, 0).is_err(),
            "registers are 32-bit"
        );
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn a_request_completes_at_its_simulated_time_with_an_interrupt() {
        let (p, mut d) = disk_device();
        let mut mem = TestMem::new(0x10000);
        initialise(&mut d);
        read_request(&mut mem);
        assert!(!d.has_work());
        w(&mut d, 0x50, 0);
        assert!(d.has_work());
        d.process(&mut mem, 1000);
        assert!(!d.has_work());
        assert_eq!(mem.get(0x5000, 1), &[2], "sector 1 read");
        let due = d.next_event_ns().unwrap();
        assert_eq!(due, 1000 + DiskTiming::default().service_ns(512));
        d.complete_due(&mut mem, due - 1);
        assert!(!d.irq_level(), "not before the disk finishes");
        assert_eq!(mem.get(USED + 2, 2), &[0, 0]);
        d.complete_due(&mut mem, due);
        assert!(d.irq_level());
        assert_eq!(mem.get(USED + 2, 2), &[1, 0]);
        assert_eq!(mem.get(USED + 8, 4), &513u32.to_le_bytes());
        assert_eq!(r(&mut d, 0x60), 1);
        w(&mut d, 0x64, 1);
        assert!(!d.irq_level());
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn a_broken_ring_needs_a_reset_and_reports_it_to_the_guest() {
        let (p, mut d) = disk_device();
        let mut mem = TestMem::new(0x10000);
        initialise(&mut d);
        // The descriptor table the driver gave lies outside its memory.
        w(&mut d, 0x44, 0);
        w(&mut d, 0x84, 0x10);
        w(&mut d, 0x44, 1);
        read_request(&mut mem);
        w(&mut d, 0x50, 0);
        d.process(&mut mem, 0);
        assert_ne!(r(&mut d, 0x70) & S_NEEDS_RESET, 0);
        assert_eq!(r(&mut d, 0x60), INT_CONFIG);
        assert!(
            d.failure().unwrap().contains("outside"),
            "{:?}",
            d.failure()
        );
        // Further notifies are ignored until the driver resets the device.
        w(&mut d, 0x50, 0);
        assert!(!d.has_work());
        w(&mut d, 0x70, 0);
        assert_eq!(r(&mut d, 0x70), 0);
        assert!(d.failure().is_none());
        initialise(&mut d);
        w(&mut d, 0x50, 0);
        d.process(&mut mem, 0);
        d.complete_due(&mut mem, u64::MAX);
        assert_eq!(mem.get(0x6000, 1), &[0], "works again after the reset");
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn refuses_features_it_did_not_offer_and_bad_queue_sizes() {
        let (p, mut d) = disk_device();
        w(&mut d, 0x70, 3);
        w(&mut d, 0x24, 0);
        w(&mut d, 0x20, 1 << 28); // indirect descriptors: not offered
        w(&mut d, 0x24, 1);
        w(&mut d, 0x20, 1);
        w(&mut d, 0x70, 3 | 8);
        assert_eq!(r(&mut d, 0x70) & 8, 0);
        let (p2, mut d2) = disk_device();
        w(&mut d2, 0x38, 5);
        w(&mut d2, 0x44, 1);
        assert_ne!(r(&mut d2, 0x70) & S_NEEDS_RESET, 0);
        // A reset drops queued completions: nothing is written afterwards.
        let (p3, mut d3) = disk_device();
        let mut mem = TestMem::new(0x10000);
        initialise(&mut d3);
        read_request(&mut mem);
        w(&mut d3, 0x50, 0);
        d3.process(&mut mem, 0);
        w(&mut d3, 0x70, 0);
        d3.complete_due(&mut mem, u64::MAX);
        assert_eq!(mem.get(USED + 2, 2), &[0, 0]);
        for p in [p, p2, p3] {
            std::fs::remove_file(p).unwrap();
        }
    }
}

#[cfg(test)]
mod net_tests {
    use super::*;
    use crate::virtio::queue::tests::{make_available, put_desc, AVAIL, DESC, USED};
    use crate::virtio::testmem::TestMem;

    fn w(d: &mut VirtioMmio, off: u64, v: u32) {
        MmioDevice::write(d, off, 4, u64::from(v), 0).unwrap();
    }

    /// Initialises the device with queue `q` of 8 entries at the test rings
    /// offset by `q * 0x8000`.
    fn setup(d: &mut VirtioMmio) {
        w(d, 0x70, 3);
        w(d, 0x24, 1);
        w(d, 0x20, 1);
        w(d, 0x70, 11);
        for q in 0..2u32 {
            let off = u64::from(q) * 0x8000;
            w(d, 0x30, q);
            w(d, 0x38, 8);
            w(d, 0x80, (DESC + off) as u32);
            w(d, 0x90, (AVAIL + off) as u32);
            w(d, 0xa0, (USED + off) as u32);
            w(d, 0x44, 1);
        }
        w(d, 0x70, 15);
    }

    #[test]
    fn frames_go_out_and_come_in_with_the_virtio_header() {
        let mac = [0x52, 0x54, 0, 1, 2, 3];
        let mut d = VirtioMmio::new(Backend::Net(NetDevice::new(mac)));
        assert_eq!(
            MmioDevice::read(&mut d, 8, 4, 0).unwrap(),
            1,
            "network device"
        );
        assert_eq!(MmioDevice::read(&mut d, 0x100, 4, 0).unwrap(), 0x0100_5452);
        let mut mem = TestMem::new(0x20000);
        setup(&mut d);
        // Transmit: header + 60-byte frame in one buffer (queue 1's table is
        // at DESC + 0x8000).
        let mut frame = vec![0xffu8; 6];
        frame.extend_from_slice(&mac);
        frame.resize(60, 0xab);
        let mut tx = vec![0u8; HEADER];
        tx.extend_from_slice(&frame);
        // Queue 1: descriptor table at 0x9000, available ring at 0xa000,
        // used ring at 0xb000; one buffer at 0xc000.
        mem.put(0xc000, &tx);
        let mut dsc = [0u8; 16];
        dsc[0..8].copy_from_slice(&0xc000u64.to_le_bytes());
        dsc[8..12].copy_from_slice(&(tx.len() as u32).to_le_bytes());
        mem.put(0x9000, &dsc);
        mem.put(0xa000, &[0, 0, 1, 0, 0, 0]);
        w(&mut d, 0x50, 1);
        d.process(&mut mem, 0);
        d.complete_due(&mut mem, 0);
        let Backend::Net(n) = d.backend_mut() else {
            unreachable!()
        };
        assert_eq!(n.take_sent(), vec![frame.clone()]);
        assert_eq!(mem.get(0xb002, 2), &[1, 0], "transmit buffer returned");
        // Receive: one 1530-byte buffer posted on queue 0.
        put_desc(&mut mem, 0, 0x4000, 1530, 2, 0);
        make_available(&mut mem, 0, &[0]);
        n.deliver(frame.clone());
        assert!(d.has_work());
        d.process(&mut mem, 0);
        d.complete_due(&mut mem, 0);
        assert!(d.irq_level());
        assert_eq!(mem.get(USED + 2, 2), &[1, 0]);
        assert_eq!(mem.get(USED + 8, 4), &72u32.to_le_bytes());
        assert_eq!(mem.get(0x4000 + 10, 2), &[1, 0], "num_buffers");
        assert_eq!(mem.get(0x4000 + 12, 60), &frame[..]);
        assert!(!d.has_work());
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::virtio::block::DiskTiming;
    use crate::virtio::testmem::TestMem;
    use proptest::prelude::*;

    fn device(net: bool) -> (Option<std::path::PathBuf>, VirtioMmio) {
        if net {
            return (None, VirtioMmio::new(Backend::Net(NetDevice::new([2; 6]))));
        }
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "disco-virtio-fuzz-{}-{}.img",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, vec![0u8; 64 * 512]).unwrap();
        let blk = BlockDevice::open(&path, DiskMode::ReadWrite, DiskTiming::default()).unwrap();
        (Some(path), VirtioMmio::new(Backend::Block(blk)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever a guest writes to the registers and its memory, the
        /// device neither panics nor touches memory outside the guest's
        /// (the test memory refuses such accesses, which must surface as
        /// errors, not as writes).
        #[test]
        fn hostile_drivers_cannot_crash_the_device(
            net in any::<bool>(),
            seed_mem in proptest::collection::vec(any::<u8>(), 0x4000),
            writes in proptest::collection::vec((0u64..0x100, any::<u32>()), 0..40),
            frames in 0usize..4,
        ) {
            let (path, mut d) = device(net);
            let mut mem = TestMem::new(0x4000);
            mem.put(0, &seed_mem);
            // Mostly small available indices and heads, random descriptors.
            mem.put(0x2002, &[seed_mem[0] % 4, 0, seed_mem[1] % 8, 0]);
            // A plausible start so that the queues get used.
            for (off, v) in [(0x70, 3), (0x24, 1), (0x20, 1), (0x70, 11), (0x38, 8),
                             (0x80, 0x1000), (0x90, 0x2000), (0xa0, 0x3000), (0x44, 1),
                             (0x70, 15)] {
                let _ = MmioDevice::write(&mut d, off, 4, v, 0);
            }
            if let Backend::Net(n) = d.backend_mut() {
                for _ in 0..frames {
                    n.deliver(vec![0xff; 64]);
                }
            }
            for (i, (off, v)) in writes.into_iter().enumerate() {
                let _ = MmioDevice::write(&mut d, off & !3, 4, u64::from(v), 0);
                let _ = MmioDevice::read(&mut d, off & !3, 4, 0);
                let _ = MmioDevice::write(&mut d, 0x50, 4, (i % 2) as u64, 0);
                d.process(&mut mem, i as u64 * 1000);
                d.complete_due(&mut mem, i as u64 * 1000);
            }
            d.complete_due(&mut mem, u64::MAX);
            if let Some(p) = path {
                std::fs::remove_file(p).unwrap();
            }
        }
    }
}
