//! The session recording: what the link delivered, byte for byte, with host receive times, plus
//! the session's metadata, so that a replay re-runs every layer above the link.
//!
//! # Format, version 1
//! All integers little-endian.
//! ```text
//! file    = magic "proprio-rec\n" (12 bytes) | version: u32 | record*
//! record  = kind: u8 | length: u32 | payload (length bytes) | crc: u32
//!           crc = CRC-32/ISO-HDLC of kind | length | payload
//! ```
//! | kind | record | payload |
//! |---|---|---|
//! | 1 | header (first record, once) | UTF-8 JSON: [`SessionMeta`] |
//! | 2 | bytes received from the device | `t_host_us: u64` then the bytes |
//! | 3 | bytes sent to the device | `t_host_us: u64` then the bytes |
//! | 4 | link event | `t_host_us: u64`, `event: u8` (1 connected, 2 disconnected, 3 lost for good), UTF-8 detail |
//! | 5 | control | `t_host_us: u64`, `control: u8` (1 user stop, 2 pain stop) |
//! | 6 | result (last record, once) | UTF-8 JSON: the result as `--json` prints it |
//!
//! `t_host_us` counts from the start of the session on the host's monotonic clock (for the
//! simulator, its simulated host clock). The file is appended as the session runs and flushed
//! at least every quarter second: a killed session leaves every complete record readable, and
//! a reader reports a cut-off last record instead of failing. Unknown record kinds are an error
//! in version 1; a new kind means a new version.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::session::SessionMeta;

/// The file's first bytes.
pub const MAGIC: &[u8; 12] = b"proprio-rec\n";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Largest record accepted, bytes (a corrupted length must not allocate gigabytes).
const MAX_RECORD_LEN: u32 = 16 << 20;
// Slice-by-16 tables: the checksum is on the replay's hot path.
const CRC32: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);

/// A link event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkEventKind {
    /// The link is up.
    Connected,
    /// The link went down; proprio is trying to get it back.
    Disconnected,
    /// The link is gone for good (proprio gave up reconnecting): the drill ends.
    Lost,
}

/// A control input from the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Control {
    /// Stop the drill.
    UserStop,
    /// Stop the drill because it hurts.
    PainStop,
}

/// One record of a recording.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Session metadata.
    Header(Box<SessionMeta>),
    /// Bytes from the device.
    Received {
        /// Host receive time, µs.
        t_host_us: u64,
        /// The bytes, as delivered.
        bytes: Vec<u8>,
    },
    /// Bytes sent to the device.
    Sent {
        /// Host send time, µs.
        t_host_us: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The link came up or went down.
    Link {
        /// Host time, µs.
        t_host_us: u64,
        /// What happened.
        event: LinkEventKind,
        /// Why, in words.
        detail: String,
    },
    /// The user pressed stop.
    Control {
        /// Host time, µs.
        t_host_us: u64,
        /// Which stop.
        control: Control,
    },
    /// The session's result, JSON.
    Result(String),
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// Not a proprio recording at all.
    #[error("not a proprio recording (it does not start with the proprio-rec signature)")]
    NotARecording,
    /// Written by a newer proprio.
    #[error(
        "recording format version {0} is newer than this proprio understands (up to {FORMAT_VERSION}); update proprio"
    )]
    NewerVersion(u32),
    /// The file ends inside a record: the session was cut off while writing.
    #[error("recording ends in the middle of a record at byte {offset} (the session was cut off)")]
    Truncated {
        /// Where the incomplete record starts.
        offset: u64,
    },
    /// A record's checksum or content is wrong.
    #[error("recording is corrupt at byte {offset}: {what}")]
    Corrupt {
        /// Where the bad record starts.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// The first record is not a header.
    #[error("recording has no session header")]
    NoHeader,
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Writes records to any [`Write`]; the caller decides when to flush.
pub struct RecordingWriter<W: Write> {
    out: W,
    /// The record being written, reused: a live session writes hundreds a second.
    scratch: Vec<u8>,
}

impl<W: Write> RecordingWriter<W> {
    /// Writes the file signature, version and the header record.
    pub fn new(mut out: W, meta: &SessionMeta) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        let mut writer = RecordingWriter {
            out,
            scratch: Vec::with_capacity(256),
        };
        writer.write(&Record::Header(Box::new(meta.clone())))?;
        Ok(writer)
    }

    /// Appends one record: kind, payload length, payload, CRC-32 of the three, in one write.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        let buf = &mut self.scratch;
        buf.clear();
        buf.extend_from_slice(&[0; 5]); // kind and length, filled in below
        let kind = encode_payload(record, buf)?;
        let len = u32::try_from(buf.len() - 5)
            .ok()
            .filter(|&n| n <= MAX_RECORD_LEN)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
        buf[0] = kind;
        buf[1..5].copy_from_slice(&len.to_le_bytes());
        let crc = CRC32.checksum(buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        self.out.write_all(buf)
    }

    /// The underlying writer (to flush or sync it).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }
}

/// Appends a record's payload to `buf`; returns the record kind.
fn encode_payload(record: &Record, buf: &mut Vec<u8>) -> io::Result<u8> {
    let mut timed = |kind: u8, t_host_us: u64, rest: &[&[u8]]| {
        buf.extend_from_slice(&t_host_us.to_le_bytes());
        for part in rest {
            buf.extend_from_slice(part);
        }
        kind
    };
    Ok(match record {
        Record::Received { t_host_us, bytes } => timed(2, *t_host_us, &[bytes]),
        Record::Sent { t_host_us, bytes } => timed(3, *t_host_us, &[bytes]),
        Record::Link {
            t_host_us,
            event,
            detail,
        } => {
            let code = match event {
                LinkEventKind::Connected => 1,
                LinkEventKind::Disconnected => 2,
                LinkEventKind::Lost => 3,
            };
            timed(4, *t_host_us, &[&[code], detail.as_bytes()])
        }
        Record::Control { t_host_us, control } => {
            let code = match control {
                Control::UserStop => 1,
                Control::PainStop => 2,
            };
            timed(5, *t_host_us, &[&[code]])
        }
        Record::Header(meta) => {
            serde_json::to_writer(&mut *buf, meta).map_err(io::Error::other)?;
            1
        }
        Record::Result(json) => {
            buf.extend_from_slice(json.as_bytes());
            6
        }
    })
}

/// Reads records from any [`Read`].
pub struct RecordingReader<R: Read> {
    input: R,
    offset: u64,
    meta: SessionMeta,
}

impl<R: Read> RecordingReader<R> {
    /// Checks the signature and version and reads the header.
    pub fn new(mut input: R) -> Result<Self, RecordingError> {
        let mut start = [0u8; 16];
        let got = read_full(&mut input, &mut start)?;
        if got < MAGIC.len() || &start[..12] != MAGIC {
            return Err(RecordingError::NotARecording);
        }
        if got < start.len() {
            return Err(RecordingError::Truncated { offset: 0 });
        }
        let version = u32::from_le_bytes([start[12], start[13], start[14], start[15]]);
        if version > FORMAT_VERSION {
            return Err(RecordingError::NewerVersion(version));
        }
        if version == 0 {
            return Err(RecordingError::Corrupt {
                offset: 12,
                what: "format version 0".into(),
            });
        }
        let mut offset = 16;
        match read_record(&mut input, &mut offset)? {
            Some(Record::Header(meta)) => Ok(RecordingReader {
                input,
                offset,
                meta: *meta,
            }),
            Some(_) => Err(RecordingError::NoHeader),
            None => Err(RecordingError::Truncated { offset }),
        }
    }

    /// The session metadata from the header.
    pub fn meta(&self) -> &SessionMeta {
        &self.meta
    }

    /// The next record, `None` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record>, RecordingError> {
        read_record(&mut self.input, &mut self.offset)
    }
}

/// Reads the record at `offset`, advancing it.
fn read_record(input: &mut impl Read, offset: &mut u64) -> Result<Option<Record>, RecordingError> {
    let start = *offset;
    let mut head = [0u8; 5];
    match read_full(input, &mut head)? {
        0 => return Ok(None),
        5 => {}
        _ => return Err(RecordingError::Truncated { offset: start }),
    }
    let kind = head[0];
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    let corrupt = |what: String| RecordingError::Corrupt {
        offset: start,
        what,
    };
    if len > MAX_RECORD_LEN {
        return Err(corrupt(format!("record length {len} is implausible")));
    }
    let mut body = vec![0u8; len as usize + 4];
    if read_full(input, &mut body)? < body.len() {
        return Err(RecordingError::Truncated { offset: start });
    }
    *offset += 5 + body.len() as u64;
    let (payload, crc) = body.split_at(len as usize);
    let mut digest = CRC32.digest();
    digest.update(&head);
    digest.update(payload);
    if digest.finalize().to_le_bytes() != crc {
        return Err(corrupt("checksum mismatch".into()));
    }
    decode(kind, payload).map(Some).map_err(corrupt)
}

fn decode(kind: u8, payload: &[u8]) -> Result<Record, String> {
    let time = |p: &[u8]| -> Result<(u64, Vec<u8>), String> {
        if p.len() < 8 {
            return Err("record too short for its timestamp".into());
        }
        let (t, rest) = p.split_at(8);
        Ok((
            u64::from_le_bytes(t.try_into().unwrap_or_default()),
            rest.to_vec(),
        ))
    };
    Ok(match kind {
        1 => Record::Header(Box::new(
            serde_json::from_slice(payload).map_err(|e| format!("bad header: {e}"))?,
        )),
        2 => {
            let (t_host_us, bytes) = time(payload)?;
            Record::Received { t_host_us, bytes }
        }
        3 => {
            let (t_host_us, bytes) = time(payload)?;
            Record::Sent { t_host_us, bytes }
        }
        4 => {
            let (t_host_us, rest) = time(payload)?;
            let event = match rest.first() {
                Some(1) => LinkEventKind::Connected,
                Some(2) => LinkEventKind::Disconnected,
                Some(3) => LinkEventKind::Lost,
                _ => return Err("unknown link event".into()),
            };
            let detail = String::from_utf8_lossy(&rest[1..]).into_owned();
            Record::Link {
                t_host_us,
                event,
                detail,
            }
        }
        5 => {
            let (t_host_us, rest) = time(payload)?;
            let control = match rest.first() {
                Some(1) => Control::UserStop,
                Some(2) => Control::PainStop,
                _ => return Err("unknown control".into()),
            };
            Record::Control { t_host_us, control }
        }
        6 => Record::Result(
            String::from_utf8(payload.to_vec()).map_err(|_| "result is not UTF-8".to_string())?,
        ),
        other => return Err(format!("unknown record kind {other}")),
    })
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
