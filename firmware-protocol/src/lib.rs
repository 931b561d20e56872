#![no_std]
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod cobs;
mod decoder;
pub mod gatt;
mod message;

pub use decoder::{DecodeStats, Decoder, FrameError};
pub use message::{
    Ack, AckStatus, Corner, DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion,
    HostCommandKind, HostMessage, ImuBatch, ImuSample, LoadSample, Status,
};

/// Protocol version carried in the first byte of every frame.
pub const VERSION: u8 = 1;

/// Largest frame on the wire, COBS overhead and the `0x00` delimiter included.
///
/// A decoder discards (and counts as oversize) anything longer.
pub const MAX_FRAME_LEN: usize = 512;

/// Largest frame content before COBS: version byte, postcard message and CRC.
pub const MAX_PAYLOAD_LEN: usize = MAX_FRAME_LEN - 1 - MAX_FRAME_LEN.div_ceil(254);

/// Most IMU samples in one [`ImuBatch`].
pub const MAX_BATCH: usize = 8;

/// The frame checksum: CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF, no reflection), sent little-endian.
pub const CRC: crc::Crc<u16, CrcTable> = crc::Crc::<u16, CrcTable>::new(&crc::CRC_16_IBM_3740);

/// The CRC's lookup table: 512 bytes by default, which suits a microcontroller's flash; with the
/// `fast-crc` feature (on a host) 8 KiB, slice-by-16, several times faster per byte.
#[cfg(not(feature = "fast-crc"))]
pub type CrcTable = crc::Table<1>;
/// The CRC's lookup table: 512 bytes by default, which suits a microcontroller's flash; with the
/// `fast-crc` feature (on a host) 8 KiB, slice-by-16, several times faster per byte.
#[cfg(feature = "fast-crc")]
pub type CrcTable = crc::Table<16>;

/// Why a message could not be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small for the frame.
    BufferTooSmall,
    /// The message does not fit in [`MAX_PAYLOAD_LEN`] (or could not be serialised).
    MessageTooLarge,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::BufferTooSmall => f.write_str("output buffer too small for the frame"),
            EncodeError::MessageTooLarge => {
                write!(
                    f,
                    "message larger than the {MAX_PAYLOAD_LEN}-byte frame limit"
                )
            }
        }
    }
}

/// Encodes `msg` as one complete frame, delimiter included, into `out`; returns its length.
///
/// Works for both directions: [`DeviceMessage`] and [`HostMessage`].
pub fn encode_frame<M: serde::Serialize>(msg: &M, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut payload = [0u8; MAX_PAYLOAD_LEN];
    payload[0] = VERSION;
    let body_len = postcard::to_slice(msg, &mut payload[1..MAX_PAYLOAD_LEN - 2])
        .map_err(|_| EncodeError::MessageTooLarge)?
        .len();
    let crc_at = 1 + body_len;
    let crc = CRC.checksum(&payload[..crc_at]);
    payload[crc_at..crc_at + 2].copy_from_slice(&crc.to_le_bytes());
    let content = &payload[..crc_at + 2];
    let n = cobs::encode(content, out).ok_or(EncodeError::BufferTooSmall)?;
    if n >= out.len() {
        return Err(EncodeError::BufferTooSmall);
    }
    out[n] = 0;
    Ok(n + 1)
}
