//! Files: the data directory and recording files, created readable by the user only.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::recording::{Record, RecordingReader, RecordingWriter};
use crate::session::{SessionMeta, SessionReport};

/// The data directory: `--data-dir` / `PROPRIO_DATA_DIR` if given, else the platform's.
pub fn data_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    match given {
        Some(dir) => Ok(dir),
        None => dirs::data_dir()
            .map(|d| d.join("proprio"))
            .context("no data directory on this system; give one with --data-dir"),
    }
}

/// Creates `dir` (and parents) if needed, private to the user.
pub(super) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

/// A new file readable and writable by the user only; never overwrites.
pub(super) fn create_private_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Creates a new private file `<dir>/<stem>.<ext>` (in a private `dir`, created if needed), or
/// `<stem>-N.<ext>` when that name is taken (sessions started within the same second).
pub fn create_unique(dir: &Path, stem: &str, ext: &str) -> Result<(PathBuf, File)> {
    create_private_dir(dir)?;
    let mut attempt = 0;
    loop {
        let name = match attempt {
            0 => format!("{stem}.{ext}"),
            n => format!("{stem}-{n}.{ext}"),
        };
        let path = dir.join(name);
        match create_private_file(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 999 => {
                attempt += 1
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
}

/// A guided session's summary, `<data>/sessions/<stamp>.json`, readable by the user only;
/// rewritten whole as the session goes, so that a session cut short still leaves one.
pub struct SessionFile {
    path: PathBuf,
}

impl SessionFile {
    /// Creates the file (empty) and so claims the session's id: the file's name without
    /// `.json`.
    pub fn create(data_dir: &Path, stamp: &str) -> Result<SessionFile> {
        let (path, _file) = create_unique(&data_dir.join("sessions"), stamp, "json")?;
        Ok(SessionFile { path })
    }

    /// The session's id.
    pub fn id(&self) -> String {
        self.path
            .file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into_owned())
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file's content with `json` and a newline, synced to disk.
    pub fn write(&self, json: &str) -> Result<()> {
        let written = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.path)
            .and_then(|mut file| {
                writeln!(file, "{json}")?;
                file.sync_all()
            });
        written.with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// The environment variable that sets the clock (`2026-01-05T10:00:00Z`), for simulation and
/// testing only: generating a programme of sessions spread over weeks.
pub const NOW_ENV: &str = "PROPRIO_NOW";

/// UTC now as (RFC 3339 text, compact text for file names): the system clock, or
/// [`NOW_ENV`] if set.
pub fn utc_now() -> Result<(String, String)> {
    let secs = match std::env::var(NOW_ENV) {
        Ok(text) => parse_utc(&text).with_context(|| {
            format!("{NOW_ENV}='{text}' is not a UTC time like 2026-01-05T10:00:00Z")
        })?,
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    Ok((
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"),
        format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}"),
    ))
}

/// Seconds since 1970 of a UTC time written `YYYY-MM-DDTHH:MM:SSZ` (as [`utc_now`] writes
/// it); `None` for anything else.
pub fn parse_utc(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let shape = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !shape {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let days = days_from_civil(y, m as u32, d as u32);
    // A date that does not exist (02-30) does not come back from the round trip.
    let valid = (1..=12).contains(&m)
        && civil_from_days(days) == (y, m as u32, d as u32)
        && hh < 24
        && mm < 60
        && ss < 60;
    valid.then_some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// A proleptic Gregorian date to days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// How often the recording is pushed to the operating system.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// A recording being written: appended as the session runs, flushed every quarter second.
pub struct RecordingFile {
    path: PathBuf,
    writer: RecordingWriter<BufWriter<File>>,
    last_flush: Instant,
}

impl RecordingFile {
    /// Creates `<data>/recordings/<stamp>-<drill>.prec` and writes the header.
    pub fn create(data_dir: &Path, stamp: &str, meta: &SessionMeta) -> Result<RecordingFile> {
        let drill = meta.drill.kind().name();
        let (path, file) = create_unique(
            &data_dir.join("recordings"),
            &format!("{stamp}-{drill}"),
            "prec",
        )?;
        // Held until the process ends (or is killed): the history's indexer leaves a locked
        // recording alone, it is still being written. Best effort: some file systems have no
        // locks.
        let _ = file.try_lock();
        let writer = RecordingWriter::new(BufWriter::new(file), meta)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(RecordingFile {
            path,
            writer,
            last_flush: Instant::now(),
        })
    }

    /// Appends a record; flushes if the last flush is a quarter second old.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        self.writer
            .write(record)
            .with_context(|| format!("cannot write recording {}", self.path.display()))?;
        self.flush_if_due()
    }

    /// Flushes if the last flush is a quarter second old (call it on a timer too, so a quiet
    /// link does not leave records in the buffer).
    pub fn flush_if_due(&mut self) -> Result<()> {
        if self.last_flush.elapsed() < FLUSH_EVERY {
            return Ok(());
        }
        self.last_flush = Instant::now();
        self.writer
            .get_mut()
            .flush()
            .with_context(|| format!("cannot write recording {}", self.path.display()))
    }

    /// Flushes everything and syncs it to disk.
    pub fn close(mut self) -> Result<PathBuf> {
        let out = self.writer.get_mut();
        out.flush()
            .and_then(|()| out.get_ref().sync_all())
            .with_context(|| format!("cannot finish recording {}", self.path.display()))?;
        Ok(self.path)
    }
}

/// A recording's name without its collision number, and that number (`…-rocker-hold-3.prec`:
/// 3; none: 0): sessions started within the same second are numbered in order.
pub(super) fn stem_and_attempt(path: &Path) -> (String, u32) {
    let stem = path
        .file_stem()
        .map_or(String::new(), |s| s.to_string_lossy().into_owned());
    match stem.rsplit_once('-') {
        Some((rest, n))
            if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && rest.len() > 16 =>
        {
            (rest.to_string(), n.parse().unwrap_or(u32::MAX))
        }
        _ => (stem, 0),
    }
}

/// The header and the result of a recording (`None` when it has no result).
pub(super) fn read_result(path: &Path) -> Result<Option<(SessionMeta, SessionReport)>> {
    let file = File::open(path).context("cannot open it")?;
    let mut reader = RecordingReader::new(std::io::BufReader::new(file))?;
    let mut result = None;
    while let Some(record) = reader.next_record()? {
        if let Record::Result(json) = record {
            result = Some(json);
        }
    }
    let Some(json) = result else {
        return Ok(None);
    };
    let report: SessionReport = serde_json::from_str(&json).context("its result cannot be read")?;
    Ok(Some((reader.meta().clone(), report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_778), (2026, 11, 21));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(parse_utc("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(parse_utc("2026-11-21T00:00:00Z"), Some(20_778 * 86_400));
        assert_eq!(parse_utc("2026-02-30T00:00:00Z"), None);
        assert_eq!(parse_utc("2026-11-21 00:00:00"), None);
    }

    #[test]
    fn collision_numbers_order_sessions_of_the_same_second() {
        let n = |name: &str| stem_and_attempt(Path::new(name));
        assert_eq!(
            n("20261121-101010-rocker-hold.prec"),
            ("20261121-101010-rocker-hold".into(), 0)
        );
        assert_eq!(
            n("20261121-101010-rocker-hold-12.prec"),
            ("20261121-101010-rocker-hold".into(), 12)
        );
        assert_eq!(n("20261121-101010-tandem-walk-2.prec").1, 2);
    }
}
