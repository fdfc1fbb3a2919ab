//! The virtual subnet (§4.2.6): an Ethernet segment joining the VMs that
//! have a network interface.
//!
//! At every scheduling point the monitor takes the frames each VM sent and
//! hands them to their receivers: a frame to a broadcast or multicast
//! address goes to every other VM on the subnet, a unicast frame to the VM
//! whose interface has that address, and is dropped otherwise. A frame thus
//! arrives at most one scheduling quantum after it was sent. Data is
//! copied; the paper's page remapping of page-sized NFS payloads is not
//! done yet.

use crate::vm::Vm;

/// The Ethernet address of VM `index`'s interface: 52:54:00:d1:5c:NN with
/// NN = index + 1 (locally administered, deterministic).
pub fn mac_of_vm(index: usize) -> [u8; 6] {
    [0x52, 0x54, 0x00, 0xd1, 0x5c, (index + 1) as u8]
}

/// Moves the frames sent since the last call to their receivers; returns
/// how many deliveries were made.
pub(crate) fn switch_frames(vms: &mut [Vm]) -> usize {
    let mut sent = Vec::new();
    for (i, vm) in vms.iter_mut().enumerate() {
        if vm.state.ended() {
            continue;
        }
        if let Some(nic) = vm.devices.nic_mut() {
            sent.extend(nic.take_sent().into_iter().map(|f| (i, f)));
        }
    }
    let mut delivered = 0;
    for (from, frame) in sent {
        let dest = &frame[..6];
        let broadcast = dest[0] & 1 != 0;
        for (j, vm) in vms.iter_mut().enumerate() {
            if j == from || vm.state.ended() {
                continue;
            }
            if let Some(nic) = vm.devices.nic_mut() {
                if broadcast || nic.mac() == dest {
                    nic.deliver(frame.clone());
                    delivered += 1;
                }
            }
        }
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_and_locally_administered() {
        let a = mac_of_vm(0);
        let b = mac_of_vm(1);
        assert_ne!(a, b);
        assert_eq!(a[0] & 0b11, 0b10, "unicast, locally administered");
    }
}
