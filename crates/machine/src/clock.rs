//! Conversion between CPU cycles and simulated nanoseconds.

/// The CPU clock: every simulated duration is a number of its cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Clock {
    hz: u64,
}

impl Clock {
    /// A clock running at `hz` cycles per second (must be non-zero).
    pub fn new(hz: u64) -> Self {
        Clock { hz: hz.max(1) }
    }

    /// Frequency in Hz.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Simulated nanoseconds at cycle `cycles`.
    pub fn ns(&self, cycles: u64) -> u64 {
        (cycles as u128 * 1_000_000_000 / self.hz as u128) as u64
    }

    /// First cycle at or after simulated time `ns`.
    pub fn cycles(&self, ns: u64) -> u64 {
        (ns as u128 * self.hz as u128).div_ceil(1_000_000_000) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways_at_400_mhz() {
        let c = Clock::new(400_000_000);
        assert_eq!(c.ns(400_000_000), 1_000_000_000);
        assert_eq!(c.cycles(1_000_000_000), 400_000_000);
        assert_eq!(c.cycles(1), 1);
        assert_eq!(c.ns(c.cycles(12_345)), 12_345);
    }
}
