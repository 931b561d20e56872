//! DIY balance boards: four HX711 load-cell amplifiers on an Arduino that prints one text line
//! per sample, such as `TL,TR,BR,BL` or `millis;TR;TL;BR;BL#`, typically at 9600–57600 baud
//! and 10 or 80 samples per second.
//!
//! Every such sketch is a little different, so the line layout is configured: which column
//! holds which corner (and optionally the Arduino's `millis()`), the delimiter, and whether the
//! numbers are raw counts or kilograms. See [`Hx711Format`].

use proprio_protocol::{DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion, LoadSample};
use serde::{Deserialize, Serialize};

use super::stream::FormatStream;
use super::{FormatError, FormatStats, HostClock};

/// Longest line accepted, bytes (without its `\n`); longer lines are discarded as oversize.
pub const MAX_LINE_LEN: usize = 256;

/// Newtons per gram-force: the load scale of [`LoadUnit::Kilograms`] (counts are grams).
const N_PER_GRAM: f32 = 0.009_806_65;

/// What one column of a line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hx711Column {
    /// The front-left load cell (`TL` or `FL`).
    FrontLeft,
    /// The front-right load cell (`TR` or `FR`).
    FrontRight,
    /// The back-right load cell (`BR`).
    BackRight,
    /// The back-left load cell (`BL`).
    BackLeft,
    /// The board's `millis()` clock, ms (`ms` or `millis`); used for the sample times.
    Millis,
    /// Anything else; ignored (`_`).
    Skip,
}

/// The unit the load-cell numbers are printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadUnit {
    /// Raw HX711 counts (uncalibrated; the centre of pressure only needs their ratios).
    Counts,
    /// Kilograms, already calibrated by the sketch; decoded to grams.
    Kilograms,
}

/// The layout of the lines a board prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hx711Format {
    /// What each column holds, in line order; exactly one of each corner, at most one
    /// [`Hx711Column::Millis`].
    pub columns: Vec<Hx711Column>,
    /// The field delimiter; `None` accepts any of `,` `;` tab and space (runs of them count as
    /// one). Must not be a digit, `.`, `-` or `+`.
    pub delimiter: Option<char>,
    /// The unit of the load-cell numbers.
    pub unit: LoadUnit,
    /// The board's nominal sample rate, Hz.
    pub rate_hz: f32,
}

impl Default for Hx711Format {
    /// `TL,TR,BR,BL` in raw counts, any delimiter, 80 samples per second.
    fn default() -> Self {
        Hx711Format {
            columns: vec![
                Hx711Column::FrontLeft,
                Hx711Column::FrontRight,
                Hx711Column::BackRight,
                Hx711Column::BackLeft,
            ],
            delimiter: None,
            unit: LoadUnit::Counts,
            rate_hz: 80.0,
        }
    }
}

impl Hx711Format {
    /// Parses a column list such as `ms,TR,TL,BR,BL` (case-insensitive; separated by `,`, `;`
    /// or spaces): `TL`/`FL` front left, `TR`/`FR` front right, `BR` back right, `BL` back
    /// left, `ms`/`millis` the board's clock, `_` a column to ignore. Exactly one of each
    /// corner is required and at most one clock column.
    pub fn parse_columns(spec: &str) -> Result<Vec<Hx711Column>, String> {
        let mut columns = Vec::new();
        for token in spec.split([',', ';', ' ', '\t']).filter(|t| !t.is_empty()) {
            let column = match token.to_ascii_lowercase().as_str() {
                "tl" | "fl" => Hx711Column::FrontLeft,
                "tr" | "fr" => Hx711Column::FrontRight,
                "br" => Hx711Column::BackRight,
                "bl" => Hx711Column::BackLeft,
                "ms" | "millis" => Hx711Column::Millis,
                "_" => Hx711Column::Skip,
                _ => {
                    return Err(format!(
                    "unknown column \"{token}\" in \"{spec}\" (expected TL, TR, BR, BL, ms or _)"
                ))
                }
            };
            columns.push(column);
        }
        if columns.is_empty() {
            return Err("the column list is empty (expected e.g. TL,TR,BR,BL)".to_string());
        }
        for (corner, name) in [
            (Hx711Column::FrontLeft, "TL"),
            (Hx711Column::FrontRight, "TR"),
            (Hx711Column::BackRight, "BR"),
            (Hx711Column::BackLeft, "BL"),
        ] {
            match columns.iter().filter(|&&c| c == corner).count() {
                1 => {}
                0 => {
                    return Err(format!(
                        "the column list \"{spec}\" has no {name} column (each of TL, TR, BR and BL is needed once)"
                    ))
                }
                _ => {
                    return Err(format!(
                        "the column list \"{spec}\" has more than one {name} column"
                    ))
                }
            }
        }
        if columns
            .iter()
            .filter(|&&c| c == Hx711Column::Millis)
            .count()
            > 1
        {
            return Err(format!(
                "the column list \"{spec}\" has more than one ms column"
            ));
        }
        Ok(columns)
    }
}

/// Index of a corner column in [`LoadSample::counts`] ([`proprio_protocol::Corner`] order).
fn corner_index(column: Hx711Column) -> Option<usize> {
    match column {
        Hx711Column::FrontLeft => Some(0),
        Hx711Column::FrontRight => Some(1),
        Hx711Column::BackRight => Some(2),
        Hx711Column::BackLeft => Some(3),
        Hx711Column::Millis | Hx711Column::Skip => None,
    }
}

/// One line as a board in `format` would print it (with its `\n`): `counts` in
/// [`proprio_protocol::Corner`] order, as raw counts or, for [`LoadUnit::Kilograms`], as
/// kilograms with three decimals (`counts` / 1000); skipped columns print `0`. For the
/// simulator and tests: [`Hx711TextDecoder`] reads it back exactly.
pub fn format_line(format: &Hx711Format, millis: u32, counts: [i32; 4]) -> String {
    let delimiter = format.delimiter.unwrap_or(',').to_string();
    let fields: Vec<String> = format
        .columns
        .iter()
        .map(|&column| match column {
            Hx711Column::Millis => millis.to_string(),
            Hx711Column::Skip => "0".to_string(),
            corner => {
                let value = corner_index(corner)
                    .and_then(|i| counts.get(i))
                    .copied()
                    .unwrap_or(0);
                match format.unit {
                    LoadUnit::Counts => value.to_string(),
                    LoadUnit::Kilograms => {
                        let sign = if value < 0 { "-" } else { "" };
                        let grams = i64::from(value).unsigned_abs();
                        format!("{sign}{}.{:03}", grams / 1000, grams % 1000)
                    }
                }
            }
        })
        .collect();
    let mut line = fields.join(&delimiter);
    line.push('\n');
    line
}

/// What one line held.
enum Line {
    /// Nothing but whitespace.
    Blank,
    /// A sample: the board's clock (ms) if it has one, and the counts in corner order.
    Sample(Option<u64>, [i32; 4]),
    /// Anything else.
    Malformed,
}

/// A load number in `unit`, as counts (grams for kilograms), rounded and clamped to i32.
fn parse_load(field: &str, unit: LoadUnit) -> Option<i32> {
    let value: f64 = field.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let counts = match unit {
        LoadUnit::Counts => value,
        LoadUnit::Kilograms => value * 1000.0,
    };
    // `as` saturates at the i32 range.
    Some(counts.round() as i32)
}

fn parse_line(format: &Hx711Format, bytes: &[u8]) -> Line {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Line::Malformed;
    };
    let text = text.trim();
    if text.is_empty() {
        return Line::Blank;
    }
    // Terminators some sketches print after the last number (`#`, `;`, ...).
    let text = text.trim_end_matches(|c: char| {
        c.is_whitespace() || (c.is_ascii_punctuation() && !matches!(c, '.' | '-' | '+'))
    });
    let fields: Vec<&str> = match format.delimiter {
        Some(d) => text.split(d).map(str::trim).collect(),
        None => text
            .split([',', ';', ' ', '\t'])
            .filter(|f| !f.is_empty())
            .collect(),
    };
    if text.is_empty() || fields.len() != format.columns.len() {
        return Line::Malformed;
    }
    let mut counts = [0i32; 4];
    let mut millis = None;
    for (&column, field) in format.columns.iter().zip(fields) {
        match column {
            Hx711Column::Skip => {}
            Hx711Column::Millis => match field.parse::<u64>() {
                Ok(ms) => millis = Some(ms),
                Err(_) => return Line::Malformed,
            },
            corner => {
                let (Some(i), Some(value)) = (corner_index(corner), parse_load(field, format.unit))
                else {
                    return Line::Malformed;
                };
                if let Some(slot) = counts.get_mut(i) {
                    *slot = value;
                }
            }
        }
    }
    Line::Sample(millis, counts)
}

/// Decodes a four-HX711 board's text lines into [`DeviceMessage`]s.
///
/// The first message is a synthetic [`DeviceMessage::Hello`]: a balance board, firmware
/// 0.0.0, device id 0, the format's rate; `load_n_per_count` is 0.00980665 N per gram for
/// [`LoadUnit::Kilograms`] and 0 for [`LoadUnit::Counts`] (raw, uncalibrated counts: the
/// centre of pressure only needs their ratios); the IMU scales are 0.
///
/// Then one [`DeviceMessage::Load`] per line, counts in [`proprio_protocol::Corner`] order
/// (kilograms become grams: `round(kg × 1000)`, clamped to i32). Sample times are the board's
/// `millis()` × 1000 (wrapping) when the format has a clock column, otherwise receive times
/// through [`HostClock`].
///
/// Lines end with `\n`; a `\r`, surrounding whitespace and trailing terminator characters
/// such as `#` or `;` are ignored, and blank lines are skipped silently. A line with the wrong
/// number of fields, a field that is not a number, or bytes that are not UTF-8 (the text a
/// sketch prints at boot, such as `HX711 ready`, or line noise) is
/// [`FormatError::Malformed`]. A line longer than [`MAX_LINE_LEN`] is discarded up to its
/// newline and reported once as [`FormatError::Oversize`].
#[derive(Debug, Clone)]
pub struct Hx711TextDecoder {
    format: Hx711Format,
    /// Out of sync (bytes were lost, or a line was over-long): dropping bytes up to the next
    /// newline.
    stream: FormatStream,
    clock: HostClock,
    seq: u32,
}

impl Hx711TextDecoder {
    /// A decoder for lines in `format`.
    pub fn new(format: Hx711Format) -> Self {
        Hx711TextDecoder {
            clock: HostClock::new(format.rate_hz),
            format,
            stream: FormatStream::new(),
            seq: 0,
        }
    }

    /// The stream was interrupted (the link dropped): the partial line is dropped, and so is
    /// the rest of the line the stream resumes in.
    pub fn resync(&mut self) {
        self.stream.resync();
    }

    /// Queues bytes read from the port at `t_host_us`.
    pub fn push(&mut self, bytes: &[u8], t_host_us: u64) {
        self.stream.push(bytes, t_host_us);
    }

    /// The next decoded message or rejection; `None` when the queued bytes hold no more.
    #[allow(clippy::should_implement_trait)] // not an Iterator: pushing more bytes revives it
    pub fn next(&mut self) -> Option<Result<DeviceMessage, FormatError>> {
        if self.stream.hello_due() {
            return Some(Ok(self.hello()));
        }
        loop {
            let data = self.stream.queue.data();
            let newline = data.iter().position(|&b| b == b'\n');
            if !self.stream.in_sync {
                let n = newline.map_or(data.len(), |at| at + 1);
                self.stream.discard(n);
                newline?;
                self.stream.in_sync = true;
                continue;
            }
            let Some(at) = newline else {
                if data.len() > MAX_LINE_LEN {
                    self.stream.discard(data.len());
                    self.stream.in_sync = false;
                    self.stream.stats.oversize += 1;
                    return Some(Err(FormatError::Oversize));
                }
                return None;
            };
            if at > MAX_LINE_LEN {
                self.stream.discard(at + 1);
                self.stream.stats.oversize += 1;
                return Some(Err(FormatError::Oversize));
            }
            let line = parse_line(&self.format, data.get(..at).unwrap_or(&[]));
            let t_host_us = self.stream.queue.time_at(at);
            self.stream.queue.consume(at + 1);
            match line {
                Line::Blank => continue,
                Line::Malformed => {
                    self.stream.stats.malformed += 1;
                    return Some(Err(FormatError::Malformed));
                }
                Line::Sample(millis, counts) => {
                    self.stream.stats.frames_ok += 1;
                    let t_us = match millis {
                        // Arduino's millis() is a u32 in ms; the protocol clock a u32 in µs.
                        Some(ms) => (ms as u32).wrapping_mul(1000),
                        None => self.clock.sample_time_us(t_host_us) as u32,
                    };
                    let sample = LoadSample {
                        seq: self.seq,
                        t_us,
                        counts,
                    };
                    self.seq = self.seq.wrapping_add(1);
                    return Some(Ok(DeviceMessage::Load(sample)));
                }
            }
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> &FormatStats {
        &self.stream.stats
    }

    /// Bytes queued and not yet decoded (at most [`MAX_LINE_LEN`] after `next` returns `None`).
    pub fn buffered_bytes(&self) -> usize {
        self.stream.queue.len()
    }

    fn hello(&self) -> DeviceMessage {
        let load_n_per_count = match self.format.unit {
            LoadUnit::Counts => 0.0,
            LoadUnit::Kilograms => N_PER_GRAM,
        };
        DeviceMessage::Hello(DeviceInfo {
            kind: DeviceKind::BalanceBoard,
            firmware: FirmwareVersion {
                major: 0,
                minor: 0,
                patch: 0,
            },
            device_id: 0,
            sample_rate_hz: self.format.rate_hz,
            acc_m_s2_per_lsb: 0.0,
            gyr_rad_s_per_lsb: 0.0,
            mag_ut_per_lsb: 0.0,
            load_n_per_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Hx711Column::*;

    fn decode(decoder: &mut Hx711TextDecoder) -> Vec<Result<DeviceMessage, FormatError>> {
        std::iter::from_fn(|| decoder.next()).collect()
    }

    fn load(seq: u32, t_us: u32, counts: [i32; 4]) -> Result<DeviceMessage, FormatError> {
        Ok(DeviceMessage::Load(LoadSample { seq, t_us, counts }))
    }

    fn format(spec: &str, delimiter: Option<char>, unit: LoadUnit) -> Hx711Format {
        Hx711Format {
            columns: Hx711Format::parse_columns(spec).unwrap(),
            delimiter,
            unit,
            rate_hz: 10.0,
        }
    }

    #[test]
    fn parse_columns_accepts_aliases_and_case() {
        assert_eq!(
            Hx711Format::parse_columns("ms,TR,TL,BR,BL"),
            Ok(vec![Millis, FrontRight, FrontLeft, BackRight, BackLeft])
        );
        assert_eq!(
            Hx711Format::parse_columns("fl; fr ;br ,bl,_,MILLIS"),
            Ok(vec![
                FrontLeft, FrontRight, BackRight, BackLeft, Skip, Millis
            ])
        );
        assert_eq!(
            Hx711Format::parse_columns("tl tr br bl"),
            Ok(Hx711Format::default().columns)
        );
    }

    #[test]
    fn parse_columns_rejects_with_one_sentence() {
        for bad in [
            "",
            " , ",
            "TL,TR,BR",
            "TL,TR,BR,BL,TL",
            "TL,FL,TR,BR,BL",
            "ms,ms,TL,TR,BR,BL",
            "TL,TR,BR,XX",
            "TL,TR,BR,BL,weight",
        ] {
            let err = Hx711Format::parse_columns(bad).unwrap_err();
            assert!(!err.is_empty() && !err.contains('\n'), "{bad:?}: {err}");
            assert!(!err.ends_with('.'), "{err}");
        }
        let err = Hx711Format::parse_columns("TL,TR,BR").unwrap_err();
        assert!(err.contains("BL"), "{err}");
        let err = Hx711Format::parse_columns("TL,TR,BR,XX").unwrap_err();
        assert!(err.contains("\"XX\""), "{err}");
    }

    #[test]
    fn default_format() {
        let f = Hx711Format::default();
        assert_eq!(f.columns, [FrontLeft, FrontRight, BackRight, BackLeft]);
        assert_eq!(f.delimiter, None);
        assert_eq!(f.unit, LoadUnit::Counts);
        assert_eq!(f.rate_hz, 80.0);
    }

    #[test]
    fn serde_names_are_kebab_case() {
        let f = format("ms,TR,_,TL,BR,BL", Some(';'), LoadUnit::Kilograms);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"columns":["millis","front-right","skip","front-left","back-right","back-left"],"delimiter":";","unit":"kilograms","rate_hz":10.0}"#
        );
        assert_eq!(serde_json::from_str::<Hx711Format>(&json).unwrap(), f);
    }

    #[test]
    fn format_line_golden() {
        let f = format("ms,TR,TL,BR,BL", Some(';'), LoadUnit::Counts);
        // counts are FL FR BR BL; the line order is ms TR TL BR BL.
        assert_eq!(format_line(&f, 1234, [1, 2, 3, -4]), "1234;2;1;3;-4\n");
        let f = format("TL,TR,BR,BL", None, LoadUnit::Kilograms);
        assert_eq!(
            format_line(&f, 0, [12_345, -5, 0, i32::MIN]),
            "12.345,-0.005,0.000,-2147483.648\n"
        );
        let f = format("_,BL,BR,TR,TL", Some('\t'), LoadUnit::Counts);
        assert_eq!(format_line(&f, 0, [1, 2, 3, 4]), "0\t4\t3\t2\t1\n");
    }

    #[test]
    fn golden_lines_decode() {
        // As printed by the sketch `Serial.print(millis()); Serial.print(';'); ...
        // Serial.println('#')`, after its boot messages.
        let f = format("ms,TR,TL,BR,BL", Some(';'), LoadUnit::Counts);
        let text = b"HX711 ready\r\nTare done\r\n\r\n1000;200;100;300;-400#\r\n2000;1;2;3;4;\r\n";
        let mut d = Hx711TextDecoder::new(f);
        d.push(text, 99_000_000);
        let out = decode(&mut d);
        let Ok(DeviceMessage::Hello(info)) = out[0] else {
            panic!("first message is not a Hello: {:?}", out[0]);
        };
        assert_eq!(info.kind, DeviceKind::BalanceBoard);
        assert_eq!(info.device_id, 0);
        assert_eq!(info.sample_rate_hz, 10.0);
        assert_eq!(info.load_n_per_count, 0.0);
        assert_eq!((info.acc_m_s2_per_lsb, info.gyr_rad_s_per_lsb), (0.0, 0.0));
        assert_eq!(
            out[1..],
            [
                Err(FormatError::Malformed),
                Err(FormatError::Malformed),
                load(0, 1_000_000, [100, 200, 300, -400]),
                load(1, 2_000_000, [2, 1, 3, 4]),
            ]
        );
        assert_eq!(
            d.stats(),
            &FormatStats {
                frames_ok: 2,
                malformed: 2,
                ..FormatStats::default()
            }
        );
    }

    #[test]
    fn kilograms_decode_to_grams() {
        let f = format("TL,TR,BR,BL", None, LoadUnit::Kilograms);
        let mut d = Hx711TextDecoder::new(f);
        d.push(b"12.3456 -0.0004, 1e3\t5\n99999999999 0 0 0\n", 7);
        let out = decode(&mut d);
        let Ok(DeviceMessage::Hello(info)) = out[0] else {
            panic!("no Hello");
        };
        assert_eq!(info.load_n_per_count, 0.009_806_65);
        assert_eq!(
            out[1..],
            [
                load(0, 7, [12_346, 0, 1_000_000, 5_000]),
                // One read, two lines: the second is placed one period (10 Hz) later.
                load(1, 100_007, [i32::MAX, 0, 0, 0]),
            ]
        );
    }

    #[test]
    fn malformed_lines() {
        let mut d = Hx711TextDecoder::new(Hx711Format::default());
        let text: &[u8] = b"1,2,3\n1,2,3,4,5\n1,2,x,4\n1,2,nan,4\n1,2,inf,4\n###\n\xff\xfe,1,2,3\n1,,2,3,4\n \t \n1,2,3,4\n";
        d.push(text, 0);
        let out = decode(&mut d);
        assert_eq!(out.len(), 1 + 7 + 2, "{out:?}");
        assert!(out[1..8].iter().all(|o| *o == Err(FormatError::Malformed)));
        // With "any" delimiter an empty field is not a field: `1,,2,3,4` reads as four.
        assert_eq!(out[8], load(0, 0, [1, 2, 3, 4]));
        assert_eq!(out[9], load(1, 12_500, [1, 2, 3, 4])); // one period at 80 Hz later
        assert_eq!(d.stats().malformed, 7);

        let f = format("TL,TR,BR,BL", Some(','), LoadUnit::Counts);
        let mut d = Hx711TextDecoder::new(f);
        d.push(b"1,,2,3,4\n1,,3,4\n", 0);
        let out = decode(&mut d);
        assert_eq!(
            out[1..],
            [Err(FormatError::Malformed), Err(FormatError::Malformed)]
        );
    }

    #[test]
    fn oversize_line_is_reported_once() {
        let mut d = Hx711TextDecoder::new(Hx711Format::default());
        let mut text = vec![b'1'; 1000];
        text.extend_from_slice(b"\n1,2,3,4\n");
        for chunk in text.chunks(100) {
            d.push(chunk, 0);
            while d.next().is_some() {}
            assert!(d.buffered_bytes() <= MAX_LINE_LEN);
        }
        assert_eq!(
            d.stats(),
            &FormatStats {
                frames_ok: 1,
                oversize: 1,
                bytes_discarded: 1001,
                ..FormatStats::default()
            }
        );
        // The longest accepted line.
        let mut line = "1,2,3,".to_string();
        line.push_str(&"0".repeat(MAX_LINE_LEN - line.len() - 1));
        line.push_str("4\n");
        assert_eq!(line.len(), MAX_LINE_LEN + 1);
        let mut d = Hx711TextDecoder::new(Hx711Format::default());
        d.push(line.as_bytes(), 0);
        assert_eq!(decode(&mut d)[1..], [load(0, 0, [1, 2, 3, 4])]);
    }

    #[test]
    fn millis_wraps_into_microseconds() {
        let f = format("ms,TL,TR,BR,BL", None, LoadUnit::Counts);
        let mut d = Hx711TextDecoder::new(f.clone());
        let line = format_line(&f, u32::MAX, [1, 2, 3, 4]);
        d.push(line.as_bytes(), 0);
        assert_eq!(
            decode(&mut d)[1..],
            [load(0, u32::MAX.wrapping_mul(1000), [1, 2, 3, 4])]
        );
    }
}
