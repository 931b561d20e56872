//! Data exchange: `proprio export` (sessions' samples in SI units and their results, as CSV or
//! JSON) and `proprio import` (another tool's recording becomes a replayable session). Both
//! decode recordings the way `proprio replay` does: the same [`Session`], fed every record.
//!
//! A session is named by its ID, the recording's file name without `.prec`
//! (`20261121-101010-rocker-hold`), or by the recording's path.

pub mod export;
pub mod import;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::recording::{RecordingError, RecordingReader};
use crate::session::{DecodedSamples, Session, SessionMeta, SessionReport};

/// A recording decoded as a replay decodes it, with the samples the session used.
pub struct Decoded {
    /// The session's ID (the file name without `.prec`).
    pub id: String,
    /// The header.
    pub meta: SessionMeta,
    /// The result the recording holds, else the replay's (they are the same to the bit).
    pub report: SessionReport,
    /// The samples as the session's chain saw them.
    pub samples: DecodedSamples,
    /// The error that cut the recording short, if one did (what came before it is decoded).
    pub cut_off: Option<RecordingError>,
}

/// Decodes the recording at `path`: every record through a [`Session`] keeping its samples.
pub fn decode(path: &Path) -> Result<Decoded> {
    let file =
        File::open(path).with_context(|| format!("cannot open recording {}", path.display()))?;
    let mut reader = RecordingReader::new(BufReader::new(file))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let meta = reader.meta().clone();
    let mut session = Session::new(meta.clone());
    session.keep_samples();
    let fed = super::run::feed_recording(&mut reader, &mut session)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let (stored, cut_off) = (fed.result, fed.cut_off);
    let (replayed, samples) = session.finish_with_samples();
    let mut report = match stored.map(|json| serde_json::from_str::<SessionReport>(&json)) {
        Some(Ok(report)) => report,
        _ => replayed,
    };
    report.recording = Some(path.display().to_string());
    Ok(Decoded {
        id: session_id(path),
        meta,
        report,
        samples,
        cut_off,
    })
}

/// A recording's session ID: its file name without `.prec`.
pub fn session_id(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

/// The recordings named by `ids` (in `<data>/recordings`) and `files`, or every recording there
/// with `all`; at least one, each existing, in the order given (`all`: by name, which is by
/// start time).
pub fn resolve_sessions(
    data_dir: &Path,
    ids: &[String],
    files: &[PathBuf],
    all: bool,
) -> Result<Vec<PathBuf>> {
    let dir = data_dir.join("recordings");
    let mut paths = Vec::new();
    if all {
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("no recordings in {} to take", dir.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "prec"))
            .collect();
        found.sort();
        paths.extend(found);
    }
    for id in ids {
        let path = dir.join(format!("{}.prec", id.trim_end_matches(".prec")));
        if !path.is_file() {
            bail!(
                "there is no session '{id}' (no {}); session IDs are the recordings' names \
                 without .prec",
                path.display()
            );
        }
        paths.push(path);
    }
    for file in files {
        if !file.is_file() {
            bail!("{} is not a file", file.display());
        }
        paths.push(file.clone());
    }
    if paths.is_empty() {
        bail!("no session given: name recordings, --session ID, or --all");
    }
    Ok(paths)
}
