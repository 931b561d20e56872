//! `proprio measure FILE`: the measures of a proprio recording or of another tool's CSV, so that
//! a clinic or lab can check proprio against its own numbers. The measure names, formulas and
//! units are in docs/measures.md.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use nalgebra::Vector3;
use serde_json::{json, Map, Value};

use super::measure_csv::{self, Table};
use crate::drill::DrillKind;
use crate::measures::gait::{
    bouts_cadence_steps_per_min, walking_bouts_of, Gait, STEP_DETECTION_VERSION,
};
use crate::measures::imu_sway::{imu_sway_over, ImuMounting};
use crate::measures::{
    mean_rate_hz, prepare, span_within, spectral_measures, sway_measures, Preprocessing,
    SpectralMeasures, Stretch, SwayMeasures, PREPROCESSING_VERSION,
};
use crate::pipeline::ImuSi;
use crate::recording::{RecordingReader, MAGIC};
use crate::scoring::DeviceClass;
use crate::session::Session;

/// Fewest samples a file must hold to be measured.
pub const MIN_SAMPLES: usize = 10;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MeasureKind {
    /// Centre-of-pressure sway (a balance board or force plate).
    Cop,
    /// Trunk sway in quiet stance from a lumbar IMU (ISway).
    Sway,
    /// Steps of a walk from a lumbar IMU.
    Walk,
}

/// `proprio measure`'s flags.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// A proprio recording (`.prec`) or a CSV file with a header line.
    file: PathBuf,
    /// What to measure [default: a recording's samples say (cop for a balance board's, walk
    /// for a tandem walk's, sway for the wearable's other drills); a CSV's columns say (cop with
    /// ML and AP columns, else sway)].
    #[arg(long, value_enum)]
    kind: Option<MeasureKind>,
    /// Apply the measures to the signal as given, without the canonical preprocessing
    /// (resampling to 25 Hz by window averaging, zero-phase 10 Hz low-pass).
    #[arg(long)]
    no_preprocess: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    csv: measure_csv::CsvArgs,
    /// Lumbar IMU: the sensor axis pointing forward when upright (x, -x, y, -y, z or -z).
    #[arg(long, default_value = "x", value_name = "AXIS", value_parser = parse_axis)]
    forward_axis: Vector3<f64>,
    /// Lumbar IMU: the sensor axis pointing up when upright (x, -x, y, -y, z or -z).
    #[arg(long, default_value = "z", value_name = "AXIS", value_parser = parse_axis)]
    up_axis: Vector3<f64>,
    /// Walk: the kind of walking [default: heel-to-toe for a tandem-walk recording, everyday
    /// otherwise].
    #[arg(long, value_enum)]
    gait: Option<GaitArg>,
}

/// `--gait`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GaitArg {
    /// Everyday walking, as Mobilise-D measures it (the sensor's vertical axis).
    Everyday,
    /// Slow heel-to-toe (tandem) walking, as the tandem-walk drill measures it.
    HeelToToe,
}

impl From<GaitArg> for Gait {
    fn from(gait: GaitArg) -> Self {
        match gait {
            GaitArg::Everyday => Gait::Everyday,
            GaitArg::HeelToToe => Gait::HeelToToe,
        }
    }
}

fn parse_axis(s: &str) -> Result<Vector3<f64>, String> {
    let (sign, name) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    let axis = match name {
        "x" => Vector3::x(),
        "y" => Vector3::y(),
        "z" => Vector3::z(),
        _ => {
            return Err(format!(
                "'{s}' is not a sensor axis (x, -x, y, -y, z or -z)"
            ))
        }
    };
    Ok(axis * sign)
}

/// The samples of the file, whatever it was.
enum Input {
    /// COP, mm, in stretches (a standing drill's, as its measures took them; otherwise one).
    Cop { stretches: Vec<Stretch> },
    /// A lumbar IMU at times t_s; `span` is what to measure (a drill's hold), while the
    /// orientation is estimated over all of it (the still stretch before a hold makes the
    /// gyroscope's bias known).
    Imu {
        t_s: Vec<f64>,
        samples: Vec<ImuSi>,
        span: std::ops::Range<usize>,
    },
}

/// `proprio measure FILE`.
pub fn measure(args: &MeasureArgs) -> Result<ExitCode> {
    let path = &args.file;
    let (input, default_kind, source) = if is_recording(path)? {
        let (input, kind) = read_recording(path)?;
        (input, kind, "recording")
    } else {
        let table = measure_csv::read(path, &args.csv, args.kind.map(|k| k != MeasureKind::Cop))?;
        let kind = match table {
            Table::Cop { .. } => MeasureKind::Cop,
            Table::Imu { .. } => MeasureKind::Sway,
        };
        let input = match table {
            Table::Cop { t_s, ml_mm, ap_mm } => Input::Cop {
                stretches: vec![Stretch {
                    t_s,
                    ml: ml_mm,
                    ap: ap_mm,
                }],
            },
            Table::Imu { t_s, samples, .. } => Input::Imu {
                span: 0..t_s.len(),
                t_s,
                samples,
            },
        };
        (input, kind, "csv")
    };
    let kind = args.kind.unwrap_or(default_kind);
    let (samples, span_s) = match &input {
        Input::Cop { stretches } => (
            stretches.iter().map(Stretch::len).sum(),
            stretches.last().and_then(|s| s.t_s.last()).unwrap_or(&0.0)
                - stretches
                    .first()
                    .and_then(|s| s.t_s.first())
                    .unwrap_or(&0.0),
        ),
        Input::Imu { t_s, span, .. } => (
            span.len(),
            t_s.get(span.end.wrapping_sub(1)).unwrap_or(&0.0) - t_s.get(span.start).unwrap_or(&0.0),
        ),
    };
    if samples < MIN_SAMPLES {
        bail!(
            "{} holds {samples} samples; measuring needs at least {MIN_SAMPLES}",
            path.display(),
        );
    }
    let mut result = Map::new();
    result.insert("file".into(), json!(path.display().to_string()));
    result.insert("source".into(), json!(source));
    result.insert("kind".into(), json!(kind_name(kind)));
    result.insert("samples".into(), json!(samples));
    result.insert("duration_s".into(), json!(span_s));
    let preprocessing = (!args.no_preprocess).then_some(Preprocessing::CANONICAL);
    match (kind, &input) {
        (MeasureKind::Cop, Input::Cop { stretches }) => {
            let prepared = prepare(stretches, preprocessing.as_ref());
            let rate_hz = prepared.rate_hz;
            let (longest_ml, longest_ap) = prepared.longest_part();
            let mut measures = Map::new();
            put_sway(
                &mut measures,
                "",
                &COP_UNITS,
                &sway_measures(&prepared.ml, &prepared.ap, rate_hz),
                &[
                    spectral_measures(longest_ml, rate_hz),
                    spectral_measures(longest_ap, rate_hz),
                ],
            );
            result.insert("stretches".into(), json!(prepared.parts.len()));
            put_series(&mut result, preprocessing.is_some(), rate_hz, measures);
        }
        (MeasureKind::Sway, Input::Imu { t_s, samples, span }) => {
            let (measures, rate_hz) =
                imu_sway(t_s, samples, span.clone(), args, preprocessing.as_ref())?;
            put_series(&mut result, preprocessing.is_some(), rate_hz, measures);
        }
        (MeasureKind::Walk, Input::Imu { t_s, samples, .. }) => {
            // The step detection has its own filters: it takes the samples as they are.
            let rate_hz = mean_rate_hz(t_s);
            let gait = args.gait.map_or(
                if source == "recording" && default_kind == MeasureKind::Walk {
                    Gait::HeelToToe
                } else {
                    Gait::Everyday
                },
                Gait::from,
            );
            let bouts = walking_bouts_of(samples, rate_hz, gait);
            let contacts: Vec<f64> = bouts
                .iter()
                .flat_map(|b| b.contacts.iter().map(|c| t_s[0] + c.t_s))
                .collect();
            result.insert("step_detection".into(), json!(STEP_DETECTION_VERSION));
            result.insert(
                "gait".into(),
                json!(match gait {
                    Gait::Everyday => "everyday",
                    Gait::HeelToToe => "heel-to-toe",
                }),
            );
            result.insert("rate_hz".into(), json!(rate_hz));
            result.insert(
                "steps".into(),
                json!(bouts.iter().map(|b| b.steps()).sum::<usize>()),
            );
            result.insert(
                "cadence_steps_per_min".into(),
                json!(bouts_cadence_steps_per_min(&bouts)),
            );
            result.insert("initial_contacts_s".into(), json!(contacts));
            let listed: Vec<Value> = bouts
                .iter()
                .map(|b| {
                    json!({
                        "start_s": t_s[0] + b.start_s(),
                        "end_s": t_s[0] + b.end_s(),
                        "steps": b.steps(),
                    })
                })
                .collect();
            result.insert("bouts".into(), Value::Array(listed));
        }
        (MeasureKind::Cop, Input::Imu { .. }) => bail!(
            "{} holds IMU samples, not a centre of pressure; use --kind sway or --kind walk",
            path.display()
        ),
        (_, Input::Cop { .. }) => bail!(
            "{} holds a centre of pressure, not IMU samples; use --kind cop",
            path.display()
        ),
    }
    let result = Value::Object(result);
    if args.json {
        out!(
            "{}",
            serde_json::to_string(&result).context("cannot format the result")?
        );
    } else {
        print_human(&result);
    }
    Ok(ExitCode::SUCCESS)
}

fn kind_name(kind: MeasureKind) -> &'static str {
    match kind {
        MeasureKind::Cop => "cop",
        MeasureKind::Sway => "sway",
        MeasureKind::Walk => "walk",
    }
}

/// True when the file starts with a recording's signature.
fn is_recording(path: &Path) -> Result<bool> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut start = [0u8; MAGIC.len()];
    let mut read = 0;
    while read < start.len() {
        match file.read(&mut start[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    Ok(read == start.len() && &start == MAGIC)
}

/// A recording's samples, decoded by the same session code as its drill and replay: the
/// drill's own span for a standing drill or a weight shift (COP) or a hold or quiet stance on
/// the wearable (IMU), the whole walk for a tandem walk.
fn read_recording(path: &Path) -> Result<(Input, MeasureKind)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = RecordingReader::new(BufReader::new(file))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let drill = reader.meta().drill.kind();
    let imported = reader.meta().imported.is_some();
    let mut session = Session::new(reader.meta().clone());
    session.keep_samples();
    if let Some(error) = super::run::feed_recording(&mut reader, &mut session)
        .with_context(|| format!("cannot read {}", path.display()))?
        .cut_off
    {
        eprintln!("proprio: note: {error}; measuring the complete records before it");
    }
    let (report, samples) = session.finish_with_samples();
    let (from_s, to_s) = (report.start_s, report.start_s + report.duration_s);
    // Quiet stance runs on a board or on the wearable: the device said which.
    let on_board = DeviceClass::of_report(&report) == DeviceClass::BalanceBoard;
    let input = match drill {
        // The stretches the drill measured, so both give the same numbers.
        DrillKind::QuietStance | DrillKind::SingleLeg | DrillKind::TandemStance if on_board => {
            Input::Cop {
                stretches: samples.measured_cop,
            }
        }
        DrillKind::WeightShift if on_board => Input::Cop {
            stretches: vec![samples.cop_between(from_s, to_s)],
        },
        _ => {
            let (t_s, samples): (Vec<f64>, Vec<ImuSi>) = samples
                .imu
                .iter()
                .map(|(t_us, s)| (*t_us as f64 * 1e-6, *s))
                .unzip();
            // A walk is found in the whole recording, and an imported one is measured whole
            // (its drill is nominal); a hold is measured over its span.
            let span = if drill == DrillKind::TandemWalk || imported {
                0..t_s.len()
            } else {
                span_within(&t_s, from_s, to_s)
            };
            Input::Imu { t_s, samples, span }
        }
    };
    let kind = match input {
        Input::Cop { .. } => MeasureKind::Cop,
        Input::Imu { .. } if drill == DrillKind::TandemWalk => MeasureKind::Walk,
        Input::Imu { .. } => MeasureKind::Sway,
    };
    Ok((input, kind))
}

/// The ISway measures of a lumbar IMU's samples over `span` (the orientation is estimated
/// over all of them), under docs/measures.md's names, and the series' rate, Hz.
fn imu_sway(
    t_s: &[f64],
    samples: &[ImuSi],
    span: std::ops::Range<usize>,
    args: &MeasureArgs,
    preprocessing: Option<&Preprocessing>,
) -> Result<(Map<String, Value>, f64)> {
    let mounting = ImuMounting {
        forward: args.forward_axis,
        up: args.up_axis,
    };
    let (m, rate_hz) = imu_sway_over(t_s, samples, span, &mounting, preprocessing)
        .with_context(|| format!("cannot measure the sway of {}", args.file.display()))?;
    let mut measures = Map::new();
    measures.insert("jerk_m2_s5".into(), json!(m.jerk_m2_s5));
    measures.insert("trunk_mean_ml_deg".into(), json!(m.trunk_mean_deg[0]));
    measures.insert("trunk_mean_ap_deg".into(), json!(m.trunk_mean_deg[1]));
    put_sway(&mut measures, "acc_", &ACC_UNITS, &m.acc, &m.acc_spectral);
    put_sway(
        &mut measures,
        "trunk_",
        &ANGLE_UNITS,
        &m.trunk,
        &m.trunk_spectral,
    );
    Ok((measures, rate_hz))
}

/// Unit suffixes of a series' measures.
struct Units {
    /// The series' own unit (distances, ranges, path).
    value: &'static str,
    /// Per second (mean velocity).
    per_s: &'static str,
    /// Squared (ellipse area).
    squared: &'static str,
    /// Squared per second (sway area per second).
    squared_per_s: &'static str,
    /// Squared per hertz (spectral density; total power is the sum of its bins).
    squared_per_hz: &'static str,
}

const COP_UNITS: Units = Units {
    value: "mm",
    per_s: "mm_s",
    squared: "mm2",
    squared_per_s: "mm2_s",
    squared_per_hz: "mm2_hz",
};
const ACC_UNITS: Units = Units {
    value: "m_s2",
    per_s: "m_s3",
    squared: "m2_s4",
    squared_per_s: "m2_s5",
    squared_per_hz: "m2_s4_hz",
};
const ANGLE_UNITS: Units = Units {
    value: "deg",
    per_s: "deg_s",
    squared: "deg2",
    squared_per_s: "deg2_s",
    squared_per_hz: "deg2_hz",
};

/// Adds a series' sway and spectral measures (ML then AP spectra) under docs/measures.md's names.
fn put_sway(
    out: &mut Map<String, Value>,
    prefix: &str,
    u: &Units,
    m: &SwayMeasures,
    spectra: &[SpectralMeasures; 2],
) {
    let mut put = |name: String, value: f64| {
        out.insert(format!("{prefix}{name}"), json!(value));
    };
    for (i, axis) in ["", "_ml", "_ap"].into_iter().enumerate() {
        let dist = if i == 0 { "_distance" } else { "" };
        put(
            format!("mean_distance{axis}_{}", u.value),
            m.mean_distance[i],
        );
        put(format!("rms{dist}{axis}_{}", u.value), m.rms[i]);
        put(format!("max_distance{axis}_{}", u.value), m.max_distance[i]);
        put(format!("range{axis}_{}", u.value), m.range[i]);
        put(format!("path{axis}_{}", u.value), m.path[i]);
        put(
            format!("mean_velocity{axis}_{}", u.per_s),
            m.mean_velocity[i],
        );
        put(format!("mean_frequency{axis}_hz"), m.mean_frequency_hz[i]);
    }
    put(format!("ellipse_area_95_{}", u.squared), m.ellipse_area_95);
    put(
        format!("ellipse_semi_major_95_{}", u.value),
        m.ellipse_semi_axes_95[0],
    );
    put(
        format!("ellipse_semi_minor_95_{}", u.value),
        m.ellipse_semi_axes_95[1],
    );
    put(
        format!("sway_area_per_s_{}", u.squared_per_s),
        m.sway_area_per_s,
    );
    for (s, axis) in spectra.iter().zip(["ml", "ap"]) {
        put(
            format!("total_power_{axis}_{}", u.squared_per_hz),
            s.total_power,
        );
        put(
            format!("power_frequency_50_{axis}_hz"),
            s.power_frequency_50_hz,
        );
        put(
            format!("power_frequency_95_{axis}_hz"),
            s.power_frequency_95_hz,
        );
        put(
            format!("centroid_frequency_{axis}_hz"),
            s.centroid_frequency_hz,
        );
        put(
            format!("frequency_dispersion_{axis}"),
            s.frequency_dispersion,
        );
        put(format!("frequency_mode_{axis}_hz"), s.frequency_mode_hz);
    }
    put("spectrum_bin_hz".into(), spectra[0].bin_hz);
}

/// Adds a measured series' preprocessing, rate and measures to the result.
fn put_series(
    result: &mut Map<String, Value>,
    preprocessed: bool,
    rate_hz: f64,
    measures: Map<String, Value>,
) {
    let preprocessing = if preprocessed {
        PREPROCESSING_VERSION
    } else {
        "none"
    };
    result.insert("preprocessing".into(), json!(preprocessing));
    result.insert("rate_hz".into(), json!(rate_hz));
    result.insert("measures".into(), Value::Object(measures));
}

/// The result for people: one `name value` line each.
fn print_human(result: &Value) {
    let Value::Object(fields) = result else {
        return;
    };
    for (name, value) in fields {
        match value {
            Value::Object(measures) => {
                out!("{name}:");
                for (m, v) in measures {
                    out!("  {m:<36} {}", number(v));
                }
            }
            Value::Array(items) if name == "initial_contacts_s" => {
                let times: Vec<String> = items.iter().map(number).collect();
                out!("{name}: {}", times.join(" "));
            }
            Value::Array(items) => {
                out!("{name}:");
                for item in items {
                    out!("  {item}");
                }
            }
            _ => out!("{name}: {}", number(value)),
        }
    }
}

/// A JSON value for people: numbers with 4 significant decimals, strings bare.
fn number(value: &Value) -> String {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => format!("{x:.4}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
