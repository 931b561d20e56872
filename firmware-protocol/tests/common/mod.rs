//! Helpers shared by the integration tests. Deliberately independent of the crate's own
//! internals: the CRC and COBS here are separate minimal implementations, so a test that builds
//! a frame by hand cross-checks the crate instead of reusing it.
#![allow(dead_code)]

use proprio_protocol::{
    encode_frame, Ack, AckStatus, DecodeStats, Decoder, DeviceInfo, DeviceKind, DeviceMessage,
    FirmwareVersion, FrameError, HostCommandKind, ImuBatch, ImuSample, LoadSample, Status,
    MAX_BATCH, MAX_FRAME_LEN,
};
use serde::{de::DeserializeOwned, Serialize};

/// One frame, delimiter included, as `encode_frame` makes it.
pub fn frame<M: Serialize>(msg: &M) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = encode_frame(msg, &mut buf).expect("message must encode");
    buf[..n].to_vec()
}

/// Frames for all of `msgs`, back to back.
pub fn stream<M: Serialize>(msgs: &[M]) -> Vec<u8> {
    msgs.iter().flat_map(|m| frame(m)).collect()
}

/// Every outcome the decoder reports for `bytes`, fed in one call per frame.
pub fn decode_all<M: DeserializeOwned>(bytes: &[u8]) -> (Vec<Result<M, FrameError>>, DecodeStats) {
    decode_chunked(bytes, bytes.len().max(1))
}

/// Every outcome the decoder reports for `bytes`, handed over in chunks of `chunk` bytes.
pub fn decode_chunked<M: DeserializeOwned>(
    bytes: &[u8],
    chunk: usize,
) -> (Vec<Result<M, FrameError>>, DecodeStats) {
    let mut decoder = Decoder::<M>::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (outcome, tail) = decoder.feed(rest);
            out.extend(outcome);
            rest = tail;
        }
    }
    (out, *decoder.stats())
}

/// Every outcome the decoder reports for `bytes`, pushed one byte at a time.
pub fn decode_bytewise<M: DeserializeOwned>(
    bytes: &[u8],
) -> (Vec<Result<M, FrameError>>, DecodeStats) {
    let mut decoder = Decoder::<M>::new();
    let out = bytes.iter().filter_map(|&b| decoder.push_byte(b)).collect();
    (out, *decoder.stats())
}

/// Only the decoded messages.
pub fn messages<M>(outcomes: Vec<Result<M, FrameError>>) -> Vec<M> {
    outcomes.into_iter().filter_map(Result::ok).collect()
}

/// CRC-16/IBM-3740, bit by bit: poly 0x1021, init 0xFFFF, no reflection, no final XOR.
pub fn crc16_ibm3740(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Textbook COBS (no trailing empty block after a full 254-byte block), no delimiter.
pub fn cobs_encode(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    let mut code_at = 0;
    for (i, &byte) in data.iter().enumerate() {
        if byte == 0 {
            out[code_at] = (out.len() - code_at) as u8;
            code_at = out.len();
            out.push(0);
        } else {
            out.push(byte);
            if out.len() - code_at == 0xFF {
                out[code_at] = 0xFF;
                if i + 1 < data.len() {
                    code_at = out.len();
                    out.push(0);
                } else {
                    return out;
                }
            }
        }
    }
    out[code_at] = (out.len() - code_at) as u8;
    out
}

/// A frame built by hand from its content (version byte and body, no CRC): appends the CRC
/// little-endian, COBS-encodes and appends the delimiter.
pub fn raw_frame(content: &[u8]) -> Vec<u8> {
    let mut payload = content.to_vec();
    payload.extend_from_slice(&crc16_ibm3740(content).to_le_bytes());
    let mut out = cobs_encode(&payload);
    out.push(0);
    out
}

/// Parses lowercase or uppercase hex, ignoring whitespace.
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            u8::from_str_radix(s, 16).map_err(|e| format!("bad hex {s:?}: {e}"))
        })
        .collect()
}

/// Lowercase hex, no separators.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// xorshift64*: a tiny deterministic generator, so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn nonzero_byte(&mut self) -> u8 {
        (self.below(255) + 1) as u8
    }

    fn i16(&mut self) -> i16 {
        // Mostly small values (short varints), sometimes anything (long varints).
        if self.below(4) == 0 {
            self.next_u64() as i16
        } else {
            (self.below(4001) as i16) - 2000
        }
    }

    fn imu(&mut self, seq: u32) -> ImuSample {
        ImuSample {
            seq,
            t_us: seq.wrapping_mul(5000),
            acc: [self.i16(), self.i16(), self.i16()],
            gyr: [self.i16(), self.i16(), self.i16()],
            mag: (self.below(2) == 0).then(|| [self.i16(), self.i16(), self.i16()]),
        }
    }
}

/// `n` varied device messages (every variant, small and large field values).
pub fn mixed_messages(n: usize, seed: u64) -> Vec<DeviceMessage> {
    let mut rng = Rng::new(seed);
    let mut seq = rng.next_u64() as u32;
    (0..n)
        .map(|_| {
            seq = seq.wrapping_add(1);
            match rng.below(6) {
                0 => DeviceMessage::Hello(DeviceInfo {
                    kind: if rng.below(2) == 0 {
                        DeviceKind::Wearable
                    } else {
                        DeviceKind::BalanceBoard
                    },
                    firmware: FirmwareVersion {
                        major: rng.byte(),
                        minor: rng.byte(),
                        patch: rng.byte(),
                    },
                    device_id: rng.next_u64() as u32,
                    sample_rate_hz: rng.below(1000) as f32,
                    acc_m_s2_per_lsb: 0.000_598_55,
                    gyr_rad_s_per_lsb: 0.000_266_3,
                    mag_ut_per_lsb: 0.15,
                    load_n_per_count: -1.0e-3,
                }),
                1 => DeviceMessage::Imu(rng.imu(seq)),
                2 => {
                    let count = rng.below(MAX_BATCH as u64 + 1) as usize;
                    let mut samples = heapless::Vec::new();
                    for _ in 0..count {
                        seq = seq.wrapping_add(1);
                        samples.push(rng.imu(seq)).unwrap();
                    }
                    DeviceMessage::ImuBatch(ImuBatch { samples })
                }
                3 => DeviceMessage::Load(LoadSample {
                    seq,
                    t_us: rng.next_u64() as u32,
                    counts: [
                        rng.next_u64() as i32 >> 8,
                        rng.next_u64() as i32 >> 8,
                        rng.next_u64() as i32,
                        -(rng.below(1000) as i32),
                    ],
                }),
                4 => DeviceMessage::Status(Status {
                    battery_percent: rng.below(101) as u8,
                    battery_mv: 3000 + rng.below(1300) as u16,
                    charging: rng.below(2) == 0,
                }),
                _ => DeviceMessage::Ack(Ack {
                    command: [
                        HostCommandKind::GetInfo,
                        HostCommandKind::Start,
                        HostCommandKind::Stop,
                        HostCommandKind::Tare,
                        HostCommandKind::Vibrate,
                    ][rng.below(5) as usize],
                    status: [
                        AckStatus::Ok,
                        AckStatus::Unsupported,
                        AckStatus::InvalidArgument,
                    ][rng.below(3) as usize],
                }),
            }
        })
        .collect()
}
