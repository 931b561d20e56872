//! What every text or frame decoder of another device's format keeps: the bytes pushed and not
//! yet decoded, with their receive times, the counters, whether the synthetic `Hello` went
//! out, and whether the stream is in sync.

use std::collections::VecDeque;

use super::FormatStats;

/// Most bytes a decoder keeps queued. Only reached when bytes are pushed and never decoded
/// (after each `push`, draining `next` leaves less than one frame queued); the oldest bytes
/// are then dropped and counted as discarded.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;

/// Receive-time segments kept for undecoded bytes; more pushes than this between two `next`
/// calls are merged (their bytes take the later receive time).
const MAX_SEGMENTS: usize = 256;

/// The state a format decoder shares with the others. Bytes dropped (to bound memory, or at a
/// link loss) leave the stream out of sync: the decoder skips to its next boundary (a header,
/// a newline) before trusting data again.
#[derive(Debug, Clone)]
pub(super) struct FormatStream {
    /// Bytes pushed and not yet decoded.
    pub(super) queue: ByteQueue,
    /// Counters of what was decoded and rejected.
    pub(super) stats: FormatStats,
    /// False after bytes were lost: the queue may start inside a frame or line.
    pub(super) in_sync: bool,
    hello_sent: bool,
}

impl FormatStream {
    /// An empty stream, in sync, its `Hello` not yet sent.
    pub(super) fn new() -> Self {
        FormatStream {
            queue: ByteQueue::default(),
            stats: FormatStats::default(),
            in_sync: true,
            hello_sent: false,
        }
    }

    /// Queues bytes received at `t_host_us`.
    pub(super) fn push(&mut self, bytes: &[u8], t_host_us: u64) {
        let dropped = self.queue.push(bytes, t_host_us);
        if dropped > 0 {
            self.stats.bytes_discarded += dropped as u64;
            self.in_sync = false;
        }
    }

    /// The stream was interrupted (the link dropped): the queued partial frame or line is
    /// dropped, and the stream resumes at an unknown point.
    pub(super) fn resync(&mut self) {
        self.stats.bytes_discarded += self.queue.clear() as u64;
        self.in_sync = false;
    }

    /// True once, the first time it is asked: the decoder's synthetic `Hello` is due.
    pub(super) fn hello_due(&mut self) -> bool {
        !std::mem::replace(&mut self.hello_sent, true)
    }

    /// Drops the oldest `n` queued bytes, counted as discarded.
    pub(super) fn discard(&mut self, n: usize) {
        self.stats.bytes_discarded += n as u64;
        self.queue.consume(n);
    }
}

/// Bytes pushed and not yet decoded, with the host time each byte was received.
///
/// Consumed bytes are dropped (amortised), and at most [`MAX_QUEUED_BYTES`] are kept.
#[derive(Debug, Clone, Default)]
pub(super) struct ByteQueue {
    buf: Vec<u8>,
    /// Index in `buf` of the first unconsumed byte.
    start: usize,
    /// Stream position (bytes pushed before) of `buf[0]`.
    base_pos: u64,
    /// `(end stream position, exclusive; receive time µs)` of the pushes still queued.
    segments: VecDeque<(u64, u64)>,
}

impl ByteQueue {
    /// Queues `bytes` received at `t_host_us`; returns how many old bytes were dropped to stay
    /// within [`MAX_QUEUED_BYTES`].
    pub(super) fn push(&mut self, bytes: &[u8], t_host_us: u64) -> usize {
        if bytes.is_empty() {
            return 0;
        }
        // Keep at most MAX_QUEUED_BYTES: drop the oldest queued bytes first, then the head of
        // `bytes` itself if it alone is larger.
        let queued = self.len();
        let excess = (queued + bytes.len()).saturating_sub(MAX_QUEUED_BYTES);
        let from_queue = excess.min(queued);
        self.consume(from_queue);
        let from_bytes = excess - from_queue;
        let bytes = bytes.get(from_bytes..).unwrap_or(&[]);

        if self.start == self.buf.len() {
            self.base_pos += self.buf.len() as u64;
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > 64 * 1024 {
                self.buf.shrink_to(4096);
            }
        } else if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.base_pos += self.start as u64;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        let end = self.end_pos();
        let full = self.segments.len() >= MAX_SEGMENTS;
        match self.segments.back_mut() {
            Some(last) if last.1 == t_host_us || full => *last = (end, t_host_us),
            _ => self.segments.push_back((end, t_host_us)),
        }
        excess
    }

    /// The queued bytes, oldest first.
    pub(super) fn data(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }

    /// How many bytes are queued.
    pub(super) fn len(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Drops the oldest `n` queued bytes (fewer if fewer are queued).
    pub(super) fn consume(&mut self, n: usize) {
        self.start = (self.start + n.min(self.len())).min(self.buf.len());
        let pos = self.base_pos + self.start as u64;
        while let Some(&(end, _)) = self.segments.front() {
            if end <= pos {
                self.segments.pop_front();
            } else {
                break;
            }
        }
    }

    /// Drops every queued byte; returns how many there were.
    pub(super) fn clear(&mut self) -> usize {
        let n = self.len();
        self.consume(n);
        n
    }

    /// The receive time of the queued byte at `offset` (0 = oldest queued byte).
    pub(super) fn time_at(&self, offset: usize) -> u64 {
        let pos = self.base_pos + (self.start + offset) as u64;
        self.segments
            .iter()
            .find(|&&(end, _)| end > pos)
            .or(self.segments.back())
            .map_or(0, |&(_, t)| t)
    }

    fn end_pos(&self) -> u64 {
        self.base_pos + self.buf.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_queue_times_follow_pushes() {
        let mut q = ByteQueue::default();
        q.push(&[1, 2, 3], 10);
        q.push(&[4, 5], 20);
        q.push(&[6], 20);
        assert_eq!(q.data(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(
            (0..6).map(|i| q.time_at(i)).collect::<Vec<_>>(),
            [10, 10, 10, 20, 20, 20]
        );
        q.consume(4);
        assert_eq!(q.data(), &[5, 6]);
        assert_eq!(q.time_at(0), 20);
        q.push(&[7], 30);
        assert_eq!(q.data(), &[5, 6, 7]);
        assert_eq!(q.time_at(2), 30);
        q.consume(10);
        assert_eq!(q.len(), 0);
        assert_eq!(q.push(&[8], 40), 0);
        assert_eq!(q.time_at(0), 40);
    }

    #[test]
    fn byte_queue_is_capped() {
        let mut q = ByteQueue::default();
        let big = vec![0xAB; MAX_QUEUED_BYTES - 10];
        assert_eq!(q.push(&big, 1), 0);
        assert_eq!(q.push(&[1; 30], 2), 20);
        assert_eq!(q.len(), MAX_QUEUED_BYTES);
        assert_eq!(q.time_at(MAX_QUEUED_BYTES - 1), 2);
        assert_eq!(
            q.push(&vec![2; MAX_QUEUED_BYTES + 5], 3),
            MAX_QUEUED_BYTES + 5
        );
        assert_eq!(q.len(), MAX_QUEUED_BYTES);
        assert!(q.data().iter().all(|&b| b == 2));
        assert_eq!(q.time_at(0), 3);
    }
}
