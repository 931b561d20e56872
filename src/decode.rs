//! Host-side decoding: the byte stream from any link becomes device messages, and each sample's
//! sequence number and device timestamp are tracked (lost samples, gaps, the u32 clock wrap).

use proprio_protocol::{Decoder, DeviceMessage, FrameError};

use crate::quality::DataQuality;

/// The protocol decoder with a `push(&[u8])` then `next()` interface.
#[derive(Default)]
pub struct StreamDecoder {
    decoder: Decoder<DeviceMessage>,
    pending: Vec<u8>,
    consumed: usize,
}

impl StreamDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues bytes as they arrived from the link (any chunking).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.consumed == self.pending.len() {
            self.pending.clear();
            self.consumed = 0;
        }
        self.pending.extend_from_slice(bytes);
    }

    /// The next complete frame's outcome, or `None` when the queued bytes hold no more frames.
    #[allow(clippy::should_implement_trait)] // not an Iterator: pushing more bytes revives it
    #[inline]
    pub fn next(&mut self) -> Option<Result<DeviceMessage, FrameError>> {
        let rest = &self.pending[self.consumed..];
        let (outcome, tail) = self.decoder.feed(rest);
        self.consumed = self.pending.len() - tail.len();
        outcome
    }

    /// The stream was interrupted: drops the partial frame and resumes at the next delimiter
    /// (see [`Decoder::resync`]). Call after draining [`StreamDecoder::next`].
    pub fn resync(&mut self) {
        self.decoder.resync();
    }

    /// Frame counters so far.
    pub fn stats(&self) -> &proprio_protocol::DecodeStats {
        self.decoder.stats()
    }
}

/// A sample accepted by [`SampleClock`], with its time on a continuous device time line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timed {
    /// Device time since the stream's first sample, µs (unwrapped; never goes back).
    pub t_us: u64,
    /// Time since the previous accepted sample, µs (0 for the first).
    pub dt_us: u64,
}

/// Tracks one stream's sequence numbers and device clock.
///
/// The device clock is a wrapping u32 in µs (71.6 minutes): it is unwrapped by taking every
/// step modulo 2³² as forward when it is under half the range. Sequence jumps count lost
/// samples; a sequence or timestamp that goes backwards is rejected (counted as out of order).
#[derive(Debug, Clone, Default)]
pub struct SampleClock {
    last: Option<(u32, u32)>,
    t_us: u64,
    nominal_period_us: Option<f64>,
    restart_possible: bool,
}

/// After a device restart the time line continues with this gap, µs (the true length of the
/// outage is unknown to the device's clock; any gap pauses the drill).
const RESTART_GAP_US: u64 = 1_000_000;

impl SampleClock {
    /// A clock that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The device's nominal sample rate, for gap detection.
    pub fn set_rate_hz(&mut self, rate_hz: f64) {
        if rate_hz.is_finite() && rate_hz > 0.0 {
            self.nominal_period_us = Some(1e6 / rate_hz);
        }
    }

    /// The device has (re)introduced itself, e.g. after a reconnection: if the next sample goes
    /// back in sequence or time, the device restarted and its counters begin again, so the
    /// time line continues (after a gap) instead of rejecting everything that follows.
    pub fn expect_possible_restart(&mut self) {
        self.restart_possible = self.last.is_some();
    }

    /// Accepts or rejects one sample, updating the quality counters.
    pub fn observe(&mut self, seq: u32, t_us: u32, quality: &mut DataQuality) -> Option<Timed> {
        let restart_possible = std::mem::take(&mut self.restart_possible);
        let Some((last_seq, last_t)) = self.last else {
            self.last = Some((seq, t_us));
            return Some(Timed { t_us: 0, dt_us: 0 });
        };
        let seq_step = seq.wrapping_sub(last_seq);
        let dt_us = t_us.wrapping_sub(last_t);
        let backwards = seq_step == 0 || seq_step > u32::MAX / 2 || dt_us > u32::MAX / 2;
        if backwards && restart_possible {
            quality.device_restarts += 1;
            self.last = Some((seq, t_us));
            self.t_us += RESTART_GAP_US;
            quality.gaps += 1;
            return Some(Timed {
                t_us: self.t_us,
                dt_us: RESTART_GAP_US,
            });
        }
        if backwards {
            quality.out_of_order += 1;
            return None;
        }
        quality.frames_lost += u64::from(seq_step - 1);
        self.last = Some((seq, t_us));
        self.t_us += u64::from(dt_us);
        let dt_s = f64::from(dt_us) * 1e-6;
        quality.longest_gap_s = quality.longest_gap_s.max(dt_s);
        if self
            .nominal_period_us
            .is_some_and(|p| f64::from(dt_us) > 2.5 * p)
        {
            quality.gaps += 1;
        }
        Some(Timed {
            t_us: self.t_us,
            dt_us: u64::from(dt_us),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_the_device_clock_and_counts_losses() {
        let mut clock = SampleClock::new();
        clock.set_rate_hz(100.0);
        let mut q = DataQuality::default();
        let start = u32::MAX - 15_000;
        assert_eq!(clock.observe(5, start, &mut q).unwrap().t_us, 0);
        let t = clock
            .observe(6, start.wrapping_add(10_000), &mut q)
            .unwrap();
        assert_eq!(t.t_us, 10_000);
        // Wraps past u32::MAX, and two samples (7, 8) are missing.
        let t = clock
            .observe(9, start.wrapping_add(40_000), &mut q)
            .unwrap();
        assert_eq!((t.t_us, t.dt_us), (40_000, 30_000));
        assert_eq!(q.frames_lost, 2);
        assert_eq!(q.gaps, 1);
        assert!((q.longest_gap_s - 0.03).abs() < 1e-12);
        // A duplicate and a step back in time are rejected.
        assert!(clock
            .observe(9, start.wrapping_add(40_000), &mut q)
            .is_none());
        assert!(clock
            .observe(10, start.wrapping_add(30_000), &mut q)
            .is_none());
        assert_eq!(q.out_of_order, 2);
        // After the device says hello again, going back means it restarted.
        clock.expect_possible_restart();
        let t = clock.observe(0, 123, &mut q).unwrap();
        assert_eq!((t.t_us, t.dt_us), (1_040_000, 1_000_000));
        assert_eq!(q.device_restarts, 1);
        assert_eq!(clock.observe(1, 10_123, &mut q).unwrap().t_us, 1_050_000);
    }
}
