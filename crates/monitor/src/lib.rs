//! The Disco virtual machine monitor.
//!
//! Not implemented yet: this crate is the home of VMs, vCPUs, the virtual CP0,
//! pmap, l2tlb, memmap and the vCPU scheduler (issue #4). It will drive CPUs
//! through [`mips::TrapDelivery::Native`].
