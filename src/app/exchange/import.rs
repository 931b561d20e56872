//! `proprio import FILE`: another tool's IMU recording becomes a proprio recording in the data
//! directory, replayable (`proprio replay`) and measurable (`proprio measure`) like a native
//! one.
//!
//! The file is read by `proprio measure`'s CSV reader (columns found by name or named by
//! flags, units from the names or flags); the samples are then encoded in proprio's wire
//! protocol as a wearable would have sent them: a `Hello` whose scales fit the data (each
//! sensor's largest value at 32000 counts, so the quantisation is at most 1/64000 of it), then
//! one IMU frame per sample with its sequence number and device time (µs), each received at
//! that time. Whatever reads recordings reads these the same way. The header says where the
//! samples came from ([`ImportedFrom`]); the drill is quiet stance on the wearable (level 1)
//! lasting as long as the data, unless `--drill` names another wearable drill.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use proprio_protocol::{
    encode_frame, DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion, ImuSample, MAX_FRAME_LEN,
};

use super::super::measure_csv::{self, CsvArgs, Table};
use super::super::store::{self, RecordingFile};
use crate::devices::DeviceFormat;
use crate::drill::{NeutralSpineConfig, QuietStanceConfig, StanceTask};
use crate::measures::mean_rate_hz;
use crate::pipeline::ImuSi;
use crate::recording::Record;
use crate::scoring::DeviceClass;
use crate::session::{pipeline_version_on, DrillSetup, ImportedFrom, SessionMeta};

/// Counts the largest value of each sensor is encoded as (of the 32767 an i16 holds: a
/// margin for rounding).
const FULL_SCALE_COUNTS: f64 = 32_000.0;

/// `proprio import`'s flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import (CSV or tab-separated text with a header line).
    file: PathBuf,
    /// What made it [default: recognised from its header: Fusion's columns, WitMotion's
    /// `ax(g)`… columns, else generic].
    #[arg(long, value_enum)]
    format: Option<ImportFormat>,
    /// The drill the imported session stands for (a wearable drill) [default: quiet stance,
    /// measured as a wearable recording].
    #[arg(long, value_enum, default_value = "quiet-stance")]
    drill: ImportDrill,
    /// A column mapping, `time=NAME`, `acc=X,Y,Z`, `gyro=X,Y,Z` or `mag=X,Y,Z` (repeatable;
    /// the same as --time-column, --acc-columns, --gyro-columns and --mag-columns).
    #[arg(long, value_name = "KEY=COLUMNS", value_parser = parse_map)]
    map: Vec<(MapKey, String)>,
    /// The column mapping and units (generic CSV; they also override a format's defaults).
    #[command(flatten)]
    csv: CsvArgs,
}

/// What a `--map` entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKey {
    /// The time column.
    Time,
    /// The accelerometer's columns.
    Acc,
    /// The gyroscope's columns.
    Gyro,
    /// The magnetometer's columns.
    Mag,
}

fn parse_map(s: &str) -> Result<(MapKey, String), String> {
    let (key, columns) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not KEY=COLUMNS (e.g. acc=ax,ay,az)"))?;
    let key = match key.trim() {
        "time" | "t" => MapKey::Time,
        "acc" => MapKey::Acc,
        "gyro" | "gyr" => MapKey::Gyro,
        "mag" => MapKey::Mag,
        other => return Err(format!("'{other}' in --map is not time, acc, gyro or mag")),
    };
    Ok((key, columns.to_string()))
}

/// The formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// x-io Technologies' Fusion example CSV: `Time (s)`, `Gyroscope X (deg/s)`…,
    /// `Accelerometer X (g)`…, `Magnetometer X (uT)`….
    Fusion,
    /// WitMotion's PC software or SDK export (tab-separated): `ChipTime` or `Time(s)`,
    /// `ax(g)`…, `wx(deg/s)`…; its `hx`… magnetometer counts are left out (their unit is not
    /// documented) unless `--mag-columns` and `--mag-unit` name them.
    Witmotion,
    /// Any CSV with a header: columns found by name or named by the --*-column(s) flags.
    Generic,
}

impl ImportFormat {
    fn name(self) -> &'static str {
        match self {
            ImportFormat::Fusion => "fusion",
            ImportFormat::Witmotion => "witmotion",
            ImportFormat::Generic => "generic",
        }
    }
}

/// The drills an imported session can stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportDrill {
    /// Quiet stance with the wearable on the lower back (ISway measures).
    QuietStance,
    /// The neutral-spine hold.
    NeutralSpine,
}

/// The format `path`'s header line says, when it is one `import` knows.
fn recognise(header: &str) -> ImportFormat {
    let lower = header.to_lowercase();
    if lower.contains("gyroscope x (deg/s)") && lower.contains("accelerometer x (g)") {
        ImportFormat::Fusion
    } else if lower.contains("ax(g)") && lower.contains("wx(deg/s)") {
        ImportFormat::Witmotion
    } else {
        ImportFormat::Generic
    }
}

/// `proprio import FILE`.
pub fn import(data_dir: &Path, user: &str, args: &ImportArgs) -> Result<ExitCode> {
    let path = &args.file;
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header = String::from_utf8_lossy(&text)
        .lines()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .unwrap_or_default()
        .to_string();
    let format = args.format.unwrap_or_else(|| recognise(&header));
    let mut csv = args.csv.clone();
    for (key, columns) in &args.map {
        let slot = match key {
            MapKey::Time => &mut csv.time_column,
            MapKey::Acc => &mut csv.acc_columns,
            MapKey::Gyro => &mut csv.gyro_columns,
            MapKey::Mag => &mut csv.mag_columns,
        };
        *slot = Some(columns.clone());
    }
    if format == ImportFormat::Witmotion {
        // The chip's clock where the export has it, else the software's.
        if csv.time_column.is_none() && csv.rate.is_none() {
            csv.time_column = header
                .split(['\t', ',', ';'])
                .map(|h| h.trim())
                .find(|h| h.eq_ignore_ascii_case("chiptime"))
                .map(str::to_string);
        }
        csv.no_mag = csv.mag_columns.is_none();
    }
    let Table::Imu {
        t_s,
        samples,
        has_gyro,
    } = measure_csv::read(path, &csv, Some(true))?
    else {
        bail!("{} holds no IMU samples", path.display());
    };
    if !has_gyro {
        bail!(
            "{} has no gyroscope columns (its header: {}); proprio's wearable drills need a \
             gyroscope: name them with --gyro-columns",
            path.display(),
            header.trim()
        );
    }
    if samples.len() < super::super::measure::MIN_SAMPLES {
        bail!(
            "{} holds {} samples; importing needs at least {}",
            path.display(),
            samples.len(),
            super::super::measure::MIN_SAMPLES
        );
    }
    let duration_s = t_s[t_s.len() - 1] - t_s[0];
    let rate_hz = mean_rate_hz(&t_s);
    let setup = match args.drill {
        ImportDrill::QuietStance => {
            let mut config = QuietStanceConfig::for_level(StanceTask::Quiet, 1)
                .context("quiet stance has no level 1")?;
            config.duration_s = duration_s.max(1.0);
            DrillSetup::QuietStance(config)
        }
        ImportDrill::NeutralSpine => {
            let mut config =
                NeutralSpineConfig::for_level(1).context("neutral spine has no level 1")?;
            config.duration_s = duration_s.max(1.0);
            DrillSetup::NeutralSpine(config)
        }
    };
    let (imported_utc, stamp) = store::utc_now()?;
    let info = device_info(&samples, rate_hz);
    let columns = format!(
        "time, accelerometer, gyroscope{}",
        if info.mag_ut_per_lsb > 0.0 {
            ", magnetometer"
        } else {
            ""
        }
    );
    let mut meta = SessionMeta::new(
        setup,
        format!("import:{}", format.name()),
        DeviceFormat::Proprio,
        None,
        imported_utc.clone(),
    );
    // An import is a wearable's recording, whatever the drill runs on by default.
    meta.pipeline_version = pipeline_version_on(meta.drill.kind(), DeviceClass::Imu).into();
    meta.user = Some(user.to_string());
    meta.imported = Some(ImportedFrom {
        file: path.display().to_string(),
        format: format.name().to_string(),
        columns,
        samples: samples.len() as u64,
        imported_utc,
    });
    let mut recording = RecordingFile::create(data_dir, &stamp, &meta)?;
    for record in encode(&t_s, &samples, &info)? {
        recording.append(&record)?;
    }
    let out = recording.close()?;
    out!(
        "imported {} samples ({duration_s:.1} s at {rate_hz:.1} Hz, {}) from {} as {}",
        samples.len(),
        format.name(),
        path.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A wearable's `Hello` whose scales fit `samples`: each sensor's largest value at
/// [`FULL_SCALE_COUNTS`].
pub fn device_info(samples: &[ImuSi], rate_hz: f64) -> DeviceInfo {
    let largest =
        |f: &dyn Fn(&ImuSi) -> Option<f64>| samples.iter().filter_map(f).fold(0.0f64, f64::max);
    let scale = |max: f64| {
        if max > 0.0 {
            (max / FULL_SCALE_COUNTS) as f32
        } else {
            // All zero: any scale encodes it exactly.
            1e-6
        }
    };
    let acc = largest(&|s| Some(s.acc_m_s2.amax()));
    let gyr = largest(&|s| Some(s.gyr_rad_s.amax()));
    let has_mag = samples.iter().any(|s| s.mag_ut.is_some());
    let mag = largest(&|s| s.mag_ut.map(|m| m.amax()));
    DeviceInfo {
        kind: DeviceKind::Wearable,
        firmware: FirmwareVersion {
            major: 0,
            minor: 0,
            patch: 0,
        },
        device_id: 0,
        sample_rate_hz: rate_hz as f32,
        acc_m_s2_per_lsb: scale(acc),
        gyr_rad_s_per_lsb: scale(gyr),
        mag_ut_per_lsb: if has_mag { scale(mag) } else { 0.0 },
        load_n_per_count: 0.0,
    }
}

/// The records a wearable with `info` would have produced sending `samples` at times `t_s`:
/// its `Hello`, then one IMU frame per sample, each received at its device time.
pub fn encode(t_s: &[f64], samples: &[ImuSi], info: &DeviceInfo) -> Result<Vec<Record>> {
    let mut frame = [0u8; MAX_FRAME_LEN];
    let mut frame_of = |message: &DeviceMessage| -> Result<Vec<u8>> {
        let n = encode_frame(message, &mut frame)
            .map_err(|e| anyhow::anyhow!("cannot encode a sample: {e:?}"))?;
        Ok(frame[..n].to_vec())
    };
    let counts = |v: &nalgebra::Vector3<f64>, per_lsb: f32| {
        let per_lsb = f64::from(per_lsb);
        [v.x, v.y, v.z].map(|x| (x / per_lsb).round().clamp(-32768.0, 32767.0) as i16)
    };
    let mut records = vec![Record::Received {
        t_host_us: 0,
        bytes: frame_of(&DeviceMessage::Hello(*info))?,
    }];
    let t0 = t_s[0];
    for (k, (t, s)) in t_s.iter().zip(samples).enumerate() {
        let t_us = ((t - t0) * 1e6).round() as u64;
        let sample = ImuSample {
            seq: k as u32,
            // The device clock wraps as a real one does; the host unwraps it.
            t_us: t_us as u32,
            acc: counts(&s.acc_m_s2, info.acc_m_s2_per_lsb),
            gyr: counts(&s.gyr_rad_s, info.gyr_rad_s_per_lsb),
            mag: s
                .mag_ut
                .filter(|_| info.mag_ut_per_lsb > 0.0)
                .map(|m| counts(&m, info.mag_ut_per_lsb)),
        };
        records.push(Record::Received {
            t_host_us: t_us,
            bytes: frame_of(&DeviceMessage::Imu(sample))?,
        });
    }
    Ok(records)
}
