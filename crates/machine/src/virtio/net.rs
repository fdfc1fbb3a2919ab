//! The virtio network device (virtio 1.x §5.1): an Ethernet interface
//! whose wire is the owner's business (the monitor's virtual subnet).
//!
//! Queue 0 receives, queue 1 transmits. Every buffer starts with the 12-byte
//! `virtio_net_hdr` (no offloads are offered, so the device writes zeros
//! and one buffer per frame). Frames the guest sends collect in an outbox
//! the owner drains ([`NetDevice::take_sent`]); frames for the guest wait in
//! an inbox ([`NetDevice::deliver`]) until the guest has posted receive
//! buffers. A full inbox drops the newest frame, as a NIC with a full ring
//! would.

use std::collections::VecDeque;

/// Bytes of `virtio_net_hdr` (with `num_buffers`, always present in 1.x).
pub const HEADER: usize = 12;
/// Largest frame accepted from or for the guest (no jumbo frames).
pub const MAX_FRAME: usize = 1518;
/// Frames waiting for receive buffers before new ones are dropped.
pub const INBOX_FRAMES: usize = 256;
/// Feature bit: the device has a MAC address.
pub const F_MAC: u64 = 1 << 5;

/// What the device did, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetStats {
    /// Frames the guest sent.
    pub sent: u64,
    /// Frames handed to the guest.
    pub received: u64,
    /// Frames dropped: malformed or oversized sends, a full inbox, receive
    /// buffers too small.
    pub dropped: u64,
}

/// A virtio network interface.
#[derive(Debug)]
pub struct NetDevice {
    mac: [u8; 6],
    inbox: VecDeque<Vec<u8>>,
    outbox: Vec<Vec<u8>>,
    /// Counters.
    pub stats: NetStats,
}

impl NetDevice {
    /// An interface with Ethernet address `mac`.
    pub fn new(mac: [u8; 6]) -> Self {
        NetDevice {
            mac,
            inbox: VecDeque::new(),
            outbox: Vec::new(),
            stats: NetStats::default(),
        }
    }

    /// Its Ethernet address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Device feature bits (besides the transport's).
    pub fn features(&self) -> u64 {
        F_MAC
    }

    /// The configuration space: the MAC address, then link status "up".
    pub fn config(&self) -> [u8; 8] {
        let mut c = [0u8; 8];
        c[..6].copy_from_slice(&self.mac);
        c[6] = 1;
        c
    }

    /// Frames the guest sent since the last call.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.outbox)
    }

    /// Queues `frame` for the guest (dropped if the inbox is full or the
    /// frame is too large).
    pub fn deliver(&mut self, frame: Vec<u8>) {
        if self.inbox.len() >= INBOX_FRAMES || frame.len() > MAX_FRAME {
            self.stats.dropped += 1;
        } else {
            self.inbox.push_back(frame);
        }
    }

    /// True when frames wait for the guest.
    pub fn has_inbox(&self) -> bool {
        !self.inbox.is_empty()
    }

    /// The next frame for the guest, if any.
    pub(crate) fn next_inbox(&mut self) -> Option<Vec<u8>> {
        self.inbox.pop_front()
    }

    /// Records a frame the guest sent (`bytes` = header + frame).
    pub(crate) fn sent(&mut self, bytes: &[u8]) {
        if bytes.len() < HEADER + 14 || bytes.len() > HEADER + MAX_FRAME {
            self.stats.dropped += 1;
        } else {
            self.stats.sent += 1;
            self.outbox.push(bytes[HEADER..].to_vec());
        }
    }

    /// Drops everything in flight (device reset).
    pub fn reset(&mut self) {
        self.inbox.clear();
        self.outbox.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_queue_and_bad_ones_are_dropped() {
        let mut n = NetDevice::new([2, 0, 0, 0, 0, 1]);
        assert_eq!(&n.config()[..6], &[2, 0, 0, 0, 0, 1]);
        n.sent(&[0u8; HEADER + 60]);
        n.sent(&[0u8; HEADER + 4]);
        n.sent(&vec![0u8; HEADER + MAX_FRAME + 1]);
        assert_eq!(n.take_sent().len(), 1);
        assert_eq!(n.stats.dropped, 2);
        for _ in 0..INBOX_FRAMES + 3 {
            n.deliver(vec![0; 60]);
        }
        assert_eq!(n.stats.dropped, 5);
        assert!(n.has_inbox());
        n.reset();
        assert!(!n.has_inbox());
    }
}
