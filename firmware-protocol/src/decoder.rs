//! The push-bytes decoder: bytes in, messages out, no I/O and no allocation.

use core::marker::PhantomData;

use serde::de::DeserializeOwned;

use crate::{cobs, CRC, MAX_FRAME_LEN, VERSION};

/// Why a frame was rejected. Each is also counted in [`DecodeStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes between two delimiters are not valid COBS.
    Cobs,
    /// Too short to hold a version byte and a CRC.
    TooShort,
    /// The CRC does not match: corrupted in transit.
    Crc,
    /// The frame is from a protocol version this decoder does not speak.
    UnknownVersion(u8),
    /// No delimiter within [`MAX_FRAME_LEN`] bytes; everything up to the next delimiter was
    /// discarded.
    Oversize,
    /// The CRC matched but the content is not a message this decoder knows (e.g. an enum
    /// variant added by a newer firmware).
    Malformed,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::Cobs => f.write_str("invalid COBS encoding"),
            FrameError::TooShort => f.write_str("frame too short"),
            FrameError::Crc => f.write_str("CRC mismatch"),
            FrameError::UnknownVersion(v) => write!(f, "unknown protocol version {v}"),
            FrameError::Oversize => write!(f, "frame longer than {MAX_FRAME_LEN} bytes"),
            FrameError::Malformed => f.write_str("unknown or malformed message"),
        }
    }
}

/// Counts of everything a [`Decoder`] has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Messages decoded.
    pub frames_ok: u64,
    /// Frames rejected for bad COBS.
    pub cobs_errors: u64,
    /// Frames rejected as too short.
    pub too_short: u64,
    /// Frames rejected for a CRC mismatch.
    pub crc_errors: u64,
    /// Frames rejected for an unknown protocol version.
    pub unknown_version: u64,
    /// Oversize frames discarded.
    pub oversize: u64,
    /// Frames with a good CRC whose content did not decode.
    pub malformed: u64,
    /// Bytes thrown away in rejected frames, each frame's delimiter included.
    pub bytes_discarded: u64,
}

impl DecodeStats {
    /// All rejected frames, whatever the reason.
    pub fn frames_rejected(&self) -> u64 {
        self.cobs_errors
            + self.too_short
            + self.crc_errors
            + self.unknown_version
            + self.oversize
            + self.malformed
    }
}

/// Turns a byte stream (serial reads, BLE notifications: any chunking) into messages of type
/// `M` ([`crate::DeviceMessage`] on the host, [`crate::HostMessage`] on a device).
///
/// Feed it with [`Decoder::push_byte`] or [`Decoder::feed`]. After garbage, a corrupted or
/// an oversize frame it resynchronises at the next `0x00` delimiter; every rejection is
/// returned once and counted in [`Decoder::stats`].
pub struct Decoder<M> {
    buf: [u8; MAX_FRAME_LEN],
    len: usize,
    /// Dropping bytes up to the next delimiter, and why.
    skip: Skip,
    stats: DecodeStats,
    _message: PhantomData<fn() -> M>,
}

/// Why a [`Decoder`] is dropping bytes up to the next delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// It is not: bytes go into the frame buffer.
    No,
    /// The frame outgrew [`MAX_FRAME_LEN`]: reported as [`FrameError::Oversize`] at its end.
    Oversize,
    /// The stream was interrupted ([`Decoder::resync`]): dropped without an error.
    Interrupted,
}

impl<M: DeserializeOwned> Default for Decoder<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: DeserializeOwned> Decoder<M> {
    /// A decoder waiting for the start of a frame.
    pub const fn new() -> Self {
        Decoder {
            buf: [0; MAX_FRAME_LEN],
            len: 0,
            skip: Skip::No,
            stats: DecodeStats {
                frames_ok: 0,
                cobs_errors: 0,
                too_short: 0,
                crc_errors: 0,
                unknown_version: 0,
                oversize: 0,
                malformed: 0,
                bytes_discarded: 0,
            },
            _message: PhantomData,
        }
    }

    /// What has been decoded and rejected so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// True when part of a frame is buffered (a stream that ends now ends mid-frame).
    pub fn is_mid_frame(&self) -> bool {
        self.len > 0 || self.skip != Skip::No
    }

    /// Tells the decoder the stream was interrupted (the link dropped and came back): the
    /// buffered bytes are the start of a frame that will never end, and the stream resumes at
    /// an unknown point. Both are dropped up to the next delimiter and counted in
    /// `bytes_discarded`, not as rejected frames: nothing was corrupted.
    pub fn resync(&mut self) {
        self.stats.bytes_discarded += self.len as u64;
        self.len = 0;
        if self.skip == Skip::No {
            self.skip = Skip::Interrupted;
        }
    }

    /// Consumes bytes up to and including the first frame delimiter; returns that frame's
    /// outcome (or `None` if `bytes` held no complete frame) and the bytes not yet consumed.
    ///
    /// Same result as [`Decoder::push_byte`] on each byte, but copies runs between delimiters
    /// at once.
    #[inline] // lets the caller build the (large) message in place instead of moving it out
    pub fn feed<'a>(&mut self, bytes: &'a [u8]) -> (Option<Result<M, FrameError>>, &'a [u8]) {
        let mut rest = bytes;
        while let Some(zero) = rest.iter().position(|&b| b == 0) {
            self.absorb(&rest[..zero]);
            let after = &rest[zero + 1..];
            if let Some(outcome) = self.push_byte(0) {
                return (Some(outcome), after);
            }
            rest = after;
        }
        self.absorb(rest);
        (None, &[])
    }

    /// Takes a run of non-delimiter bytes.
    fn absorb(&mut self, run: &[u8]) {
        if run.is_empty() {
            return;
        }
        if self.skip != Skip::No {
            self.stats.bytes_discarded += run.len() as u64;
        } else if self.len + run.len() < MAX_FRAME_LEN {
            self.buf[self.len..self.len + run.len()].copy_from_slice(run);
            self.len += run.len();
        } else {
            self.stats.bytes_discarded += (self.len + run.len()) as u64;
            self.len = 0;
            self.skip = Skip::Oversize;
        }
    }

    /// Consumes one byte; returns the outcome of a frame when `byte` completes one.
    /// Empty frames (consecutive delimiters) are ignored: senders may send `0x00` to flush.
    #[inline]
    pub fn push_byte(&mut self, byte: u8) -> Option<Result<M, FrameError>> {
        if byte != 0 {
            if self.skip != Skip::No {
                self.stats.bytes_discarded += 1;
            } else if self.len < MAX_FRAME_LEN - 1 {
                self.buf[self.len] = byte;
                self.len += 1;
            } else {
                self.stats.bytes_discarded += self.len as u64 + 1;
                self.len = 0;
                self.skip = Skip::Oversize;
            }
            return None;
        }
        match core::mem::replace(&mut self.skip, Skip::No) {
            Skip::No => {}
            Skip::Oversize => {
                self.stats.oversize += 1;
                self.stats.bytes_discarded += 1; // the delimiter, as for every rejected frame
                return Some(Err(FrameError::Oversize));
            }
            Skip::Interrupted => {
                self.stats.bytes_discarded += 1;
                return None;
            }
        }
        if self.len == 0 {
            return None;
        }
        let frame_len = core::mem::take(&mut self.len);
        let outcome = self.decode_frame(frame_len);
        if outcome.is_err() {
            self.stats.bytes_discarded += frame_len as u64 + 1;
        }
        Some(outcome)
    }

    #[inline]
    fn decode_frame(&mut self, frame_len: usize) -> Result<M, FrameError> {
        let stats = &mut self.stats;
        let Some(n) = cobs::decode_in_place(&mut self.buf[..frame_len]) else {
            stats.cobs_errors += 1;
            return Err(FrameError::Cobs);
        };
        if n < 3 {
            stats.too_short += 1;
            return Err(FrameError::TooShort);
        }
        let (content, crc_bytes) = self.buf[..n].split_at(n - 2);
        if CRC.checksum(content).to_le_bytes() != [crc_bytes[0], crc_bytes[1]] {
            stats.crc_errors += 1;
            return Err(FrameError::Crc);
        }
        if content[0] != VERSION {
            stats.unknown_version += 1;
            return Err(FrameError::UnknownVersion(content[0]));
        }
        // Trailing bytes are allowed: a newer sender may have appended fields.
        match postcard::take_from_bytes::<M>(&content[1..]) {
            Ok((message, _rest)) => {
                stats.frames_ok += 1;
                Ok(message)
            }
            Err(_) => {
                stats.malformed += 1;
                Err(FrameError::Malformed)
            }
        }
    }
}
