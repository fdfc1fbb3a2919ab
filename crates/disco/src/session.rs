//! What `disco run` drives: the bare machine running one guest, or the
//! monitor running the guest in a virtual machine (`--vm`). Both look the
//! same to the console loops.

use machine::{Machine, Stop};
use monitor::vm::VmState;
use monitor::Monitor;

/// How a guest's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It wrote this status to its exit device.
    Exit(u32),
    /// It asked to reboot (Linux does after a panic with `panic=`).
    Reboot,
    /// It powered off.
    PowerOff,
    /// It cannot go on: why.
    Failed(String),
}

impl Ending {
    fn from_stop(stop: Stop) -> Self {
        match stop {
            Stop::Exit(s) => Ending::Exit(s),
            Stop::Reboot => Ending::Reboot,
            Stop::PowerOff => Ending::PowerOff,
            Stop::Wedged {
                cpu,
                vector,
                cause,
                epc,
            } => Ending::Failed(format!(
                "CPU {cpu} is wedged: exception {} at {epc:#x} sent it to vector {vector:#x}, which it cannot fetch",
                cause.name()
            )),
        }
    }

    fn from_vm(state: &VmState) -> Option<Self> {
        Some(match state {
            VmState::Running => return None,
            VmState::Exited(s) => Ending::Exit(*s),
            VmState::Rebooted => Ending::Reboot,
            VmState::PoweredOff => Ending::PowerOff,
            VmState::Failed(why) => Ending::Failed(format!("the monitor stopped the VM: {why}")),
        })
    }
}

/// A running guest with a console.
pub trait Session {
    /// Runs for up to `cycles` simulated cycles; `Some` once the guest ended.
    fn run_for(&mut self, cycles: u64) -> Option<Ending>;
    /// Takes what the guest wrote to its console.
    fn take_console_output(&mut self) -> Vec<u8>;
    /// Free space in the console's receive queue.
    fn console_input_space(&self) -> usize;
    /// Types `bytes` on the console.
    fn push_console_input(&mut self, bytes: &[u8]);
    /// The simulated machine.
    fn machine(&self) -> &Machine;
    /// The monitor, when the guest runs in a VM.
    fn monitor(&self) -> Option<&Monitor> {
        None
    }
}

/// The guest on the bare machine.
#[derive(Debug)]
pub struct Bare(pub Machine);

impl Session for Bare {
    fn run_for(&mut self, cycles: u64) -> Option<Ending> {
        self.0.run_for(cycles).map(Ending::from_stop)
    }
    fn take_console_output(&mut self) -> Vec<u8> {
        self.0.take_console_output()
    }
    fn console_input_space(&self) -> usize {
        self.0.console_input_space()
    }
    fn push_console_input(&mut self, bytes: &[u8]) {
        self.0.push_console_input(bytes);
    }
    fn machine(&self) -> &Machine {
        &self.0
    }
}

/// The guest in virtual machine `vm` of a monitor.
#[derive(Debug)]
pub struct Virtual {
    /// The machine the monitor runs on.
    pub machine: Machine,
    /// The monitor.
    pub monitor: Monitor,
    /// The VM whose console this session shows.
    pub vm: usize,
}

impl Session for Virtual {
    fn run_for(&mut self, cycles: u64) -> Option<Ending> {
        self.monitor.run_for(&mut self.machine, cycles);
        Ending::from_vm(&self.monitor.vms[self.vm].state)
    }
    fn take_console_output(&mut self) -> Vec<u8> {
        self.monitor.take_console_output(self.vm)
    }
    fn console_input_space(&self) -> usize {
        self.monitor.console_input_space(self.vm)
    }
    fn push_console_input(&mut self, bytes: &[u8]) {
        self.monitor.push_console_input(self.vm, bytes);
    }
    fn machine(&self) -> &Machine {
        &self.machine
    }
    fn monitor(&self) -> Option<&Monitor> {
        Some(&self.monitor)
    }
}
