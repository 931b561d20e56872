//! `proprio export`: sessions' samples in SI units, decoded from their recordings as a replay
//! decodes them, and their results (measures, scores, versions), as CSV or JSON. The columns
//! are documented in README.md ("Export and import").
//!
//! - IMU: `t_s` (device time since the stream's first sample), `acc_{x,y,z}_m_s2`,
//!   `gyr_{x,y,z}_rad_s`, `mag_{x,y,z}_ut` (empty without a magnetometer), and the offline
//!   orientation estimate `world_from_imu` as `q_{w,x,y,z}` (z up; north-referenced with a
//!   magnetometer), from the recording's own filter settings (the drills' tilt and posture
//!   measures use a tilt-only estimate of the same filter, so the heading here may differ).
//! - Balance board: `t_s`, `phase` (`taring`, `empty`, `on-board`), `total_n`, the four cells'
//!   forces after the tare `cell_{front_left,front_right,back_right,back_left}_n`, and the
//!   centre of pressure `cop_ml_mm`, `cop_ap_mm` (empty while nobody is on the board).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use super::{decode, resolve_sessions, Decoded};
use crate::measures::mean_rate_hz;
use crate::pipeline::{smooth_orientation, BoardPhase};
use crate::scoring::DeviceClass;

/// `proprio export`'s flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Recordings (`.prec`) to export.
    files: Vec<PathBuf>,
    /// A session to export, by ID: its recording's name in the data directory without `.prec`
    /// (repeatable).
    #[arg(long = "session", value_name = "ID")]
    sessions: Vec<String>,
    /// Export every session in the data directory.
    #[arg(long)]
    all: bool,
    /// `csv`: per session `<ID>-samples.csv`, and for all of them `results.csv` and
    /// `measures.csv`; `json`: one `<ID>.json` document per session.
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// The directory to write to (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values, one header line.
    Csv,
    /// One JSON document per session.
    Json,
}

/// A session's samples as columns of numbers (or text), in SI units.
pub struct SampleTable {
    /// Column names, with their units.
    pub columns: Vec<&'static str>,
    /// One row per sample; `Null` where a value is absent.
    pub rows: Vec<Vec<Value>>,
}

/// The IMU columns.
pub const IMU_COLUMNS: [&str; 14] = [
    "t_s",
    "acc_x_m_s2",
    "acc_y_m_s2",
    "acc_z_m_s2",
    "gyr_x_rad_s",
    "gyr_y_rad_s",
    "gyr_z_rad_s",
    "mag_x_ut",
    "mag_y_ut",
    "mag_z_ut",
    "q_w",
    "q_x",
    "q_y",
    "q_z",
];

/// The balance-board columns.
pub const BOARD_COLUMNS: [&str; 9] = [
    "t_s",
    "phase",
    "total_n",
    "cell_front_left_n",
    "cell_front_right_n",
    "cell_back_right_n",
    "cell_back_left_n",
    "cop_ml_mm",
    "cop_ap_mm",
];

/// The samples of a decoded session as a table: the board's if it was a board session, else
/// the IMU's.
pub fn sample_table(decoded: &Decoded) -> SampleTable {
    let on_board = DeviceClass::of_report(&decoded.report) == DeviceClass::BalanceBoard;
    if on_board {
        let rows = decoded
            .samples
            .cop
            .iter()
            .map(|s| {
                let phase = match s.phase {
                    BoardPhase::Taring => "taring",
                    BoardPhase::Empty => "empty",
                    BoardPhase::OnBoard => "on-board",
                };
                let cells = s
                    .cells_n
                    .map_or([Value::Null, Value::Null, Value::Null, Value::Null], |c| {
                        c.map(|f| json!(f))
                    });
                let cop = s
                    .cop_mm
                    .map_or([Value::Null, Value::Null], |c| c.map(|x| json!(x)));
                let mut row = vec![json!(s.t_us as f64 * 1e-6), json!(phase), json!(s.total_n)];
                row.extend(cells);
                row.extend(cop);
                row
            })
            .collect();
        return SampleTable {
            columns: BOARD_COLUMNS.to_vec(),
            rows,
        };
    }
    let imu = &decoded.samples.imu;
    let t_s: Vec<f64> = imu.iter().map(|(t_us, _)| *t_us as f64 * 1e-6).collect();
    let si: Vec<_> = imu.iter().map(|(_, s)| *s).collect();
    let rate_hz = mean_rate_hz(&t_s);
    let orientation = if rate_hz.is_finite() && rate_hz > 0.0 {
        smooth_orientation(&si, 1.0 / rate_hz, &decoded.meta.pipeline.filter)
    } else {
        Vec::new()
    };
    let rows = si
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let mut row = vec![json!(t_s[k])];
            row.extend(s.acc_m_s2.iter().map(|x| json!(x)));
            row.extend(s.gyr_rad_s.iter().map(|x| json!(x)));
            match s.mag_ut {
                Some(m) => row.extend(m.iter().map(|x| json!(x))),
                None => row.extend([Value::Null, Value::Null, Value::Null]),
            }
            match orientation.get(k) {
                Some(q) => row.extend([q.w, q.i, q.j, q.k].map(|x| json!(x))),
                None => row.extend([Value::Null, Value::Null, Value::Null, Value::Null]),
            }
            row
        })
        .collect();
    SampleTable {
        columns: IMU_COLUMNS.to_vec(),
        rows,
    }
}

/// `proprio export`.
pub fn export(data_dir: &Path, args: &ExportArgs) -> Result<ExitCode> {
    let paths = resolve_sessions(data_dir, &args.sessions, &args.files, args.all)?;
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut results = Vec::new();
    let mut measures = Vec::new();
    for path in &paths {
        let decoded = decode(path)?;
        if let Some(error) = &decoded.cut_off {
            eprintln!(
                "proprio: note: {}: {error}; exporting the complete records before it",
                path.display()
            );
        }
        let table = sample_table(&decoded);
        match args.format {
            ExportFormat::Csv => {
                let out = args.out.join(format!("{}-samples.csv", decoded.id));
                let mut text = String::new();
                push_csv_row(&mut text, table.columns.iter().map(|c| Value::from(*c)));
                for row in &table.rows {
                    push_csv_row(&mut text, row.iter().cloned());
                }
                write(&out, &text)?;
                results.push(result_row(&decoded));
                for (name, value) in
                    flat_numbers("", &serde_json::to_value(decoded.report.metrics)?)
                {
                    measures.push(vec![json!(decoded.id), json!(name), json!(value)]);
                }
            }
            ExportFormat::Json => {
                let mut samples = Map::new();
                for (i, column) in table.columns.iter().enumerate() {
                    let values: Vec<Value> = table.rows.iter().map(|r| r[i].clone()).collect();
                    samples.insert((*column).to_string(), Value::Array(values));
                }
                let document = json!({
                    "session": decoded.id,
                    "header": decoded.meta,
                    "result": decoded.report,
                    "samples": samples,
                });
                let out = args.out.join(format!("{}.json", decoded.id));
                write(&out, &serde_json::to_string_pretty(&document)?)?;
            }
        }
        out!("{}: {} samples", decoded.id, table.rows.len());
    }
    if args.format == ExportFormat::Csv {
        let mut text = String::new();
        push_csv_row(&mut text, RESULT_COLUMNS.iter().map(|c| Value::from(*c)));
        for row in results {
            push_csv_row(&mut text, row.into_iter());
        }
        write(&args.out.join("results.csv"), &text)?;
        let mut text = String::new();
        push_csv_row(
            &mut text,
            ["session", "measure", "value"].map(Value::from).into_iter(),
        );
        for row in measures {
            push_csv_row(&mut text, row.into_iter());
        }
        write(&args.out.join("measures.csv"), &text)?;
    }
    out!(
        "exported {} session(s) to {}",
        paths.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The columns of `results.csv`, one row per session.
pub const RESULT_COLUMNS: [&str; 22] = [
    "session",
    "drill",
    "level",
    "sensor",
    "created_utc",
    "source",
    "imported_from",
    "start_s",
    "duration_s",
    "target_duration_s",
    "end",
    "score",
    "refused",
    "progress_score",
    "verdict",
    "change_log",
    "mdc_log",
    "samples",
    "frames_lost",
    "pipeline_version",
    "proprio_version",
    "recording",
];

fn result_row(d: &Decoded) -> Vec<Value> {
    let r = &d.report;
    let p = r.progress.as_ref();
    vec![
        json!(d.id),
        json!(r.drill.name()),
        json!(r.level),
        json!(match DeviceClass::of_report(r) {
            DeviceClass::Imu => "wearable",
            DeviceClass::BalanceBoard => "balance-board",
        }),
        json!(d.meta.created_utc),
        json!(r.source),
        json!(d.meta.imported.as_ref().map(|i| i.file.clone())),
        json!(r.start_s),
        json!(r.duration_s),
        json!(r.target_duration_s),
        serde_json::to_value(r.end).unwrap_or(Value::Null),
        json!(r.score),
        json!(r.refused),
        json!(p.map(|p| p.score)),
        p.map_or(Value::Null, |p| {
            serde_json::to_value(p.verdict).unwrap_or(Value::Null)
        }),
        json!(p.map(|p| p.change_log)),
        json!(p.map(|p| p.mdc_log)),
        json!(r.quality.samples_received),
        json!(r.quality.frames_lost),
        json!(r.pipeline_version),
        json!(d.meta.proprio_version),
        json!(r.recording),
    ]
}

/// Every number in `value`, by its dotted path (`tilt_rms_deg`, `stretches.0.t_s`).
fn flat_numbers(prefix: &str, value: &Value) -> Vec<(String, f64)> {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Number(n) => n
            .as_f64()
            .map(|x| vec![(prefix.to_string(), x)])
            .unwrap_or_default(),
        Value::Bool(b) => vec![(prefix.to_string(), f64::from(u8::from(*b)))],
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| flat_numbers(&join(k), v))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, v)| flat_numbers(&join(&i.to_string()), v))
            .collect(),
        _ => Vec::new(),
    }
}

/// Appends one CSV line: numbers in their shortest exact form, text quoted when it must be,
/// nothing for `Null`.
fn push_csv_row(out: &mut String, cells: impl Iterator<Item = Value>) {
    let mut first = true;
    for cell in cells {
        if !first {
            out.push(',');
        }
        first = false;
        match cell {
            Value::Null => {}
            Value::String(s) if s.contains([',', '"', '\n', '\r']) => {
                out.push('"');
                out.push_str(&s.replace('"', "\"\""));
                out.push('"');
            }
            Value::String(s) => out.push_str(&s),
            other => out.push_str(&other.to_string()),
        }
    }
    out.push('\n');
}

fn write(path: &Path, text: &str) -> Result<()> {
    let mut file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
