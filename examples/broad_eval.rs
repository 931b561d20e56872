//! Orientation accuracy on BROAD-format trials: proprio's filter side by side with VQF, Fusion
//! and Madgwick, in one run.
//!
//! ```text
//! cargo run --release --example broad_eval -- [DIR] [--json] [--rates 285.7,100,50]
//!     [--repeat 3] [--filters proprio,vqf,fusion,madgwick] [--dims 9D,6D]
//! ```
//!
//! `DIR` holds an `index.json` and one `<trial>.f32` per trial in BROAD's layout (see
//! `proprio::eval`); it defaults to the shared copy of BROAD next to the repository
//! (`../shared/data/broad`). Each rate in `--rates` is either the trials' own (within 0.1 %)
//! or lower, reached with `proprio::eval::decimate` (window means; the gyroscope's integral is
//! kept).
//!
//! For every rate, filter, mode (causal or offline) and dimensions (9D with the magnetometer,
//! 6D without) the trials run one after the other, each filter starting from its own default
//! initial state and stepping `1 / rate` per sample. The errors are BROAD's: RMSE of the total,
//! heading and inclination error angles over the samples in movement phases with a reference,
//! per trial, then the mean over trials. 9D estimates are scored as they are (both frames are
//! east-north-up). **6D rows: total and heading are after removing one constant heading offset
//! per trial** (the circular mean of the heading error); inclination needs no alignment. The
//! time per sample covers only the filter loop (inputs converted to each filter's units and
//! types beforehand), summed over all trials and divided by all their samples; each loop runs
//! `--repeat` times and the fastest run counts, which keeps most of a shared machine's noise out.
//!
//! For a figure free of that noise, count instructions: each filter's loop is its own function
//! (`proprio_causal_loop`, `proprio_offline_loop`, `vqf_loop`, `fusion_loop`, `madgwick_loop`),
//! so that
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=cg.out \
//!     target/release/examples/broad_eval --rates 285.7 --dims 9D --filters proprio,vqf --repeat 1
//! callgrind_annotate --inclusive=yes cg.out | grep _loop
//! ```
//!
//! gives each loop's instructions (divide by the samples: the trials' total at that rate).
//!
//! The filters and their settings (one set for all trials, no tuning per trial):
//! - `proprio`: `AhrsFilter` with `AhrsParams::default()` (`use_mag` false and no magnetometer
//!   samples in 6D), causal; and `smooth_orientation`, offline (forward–backward).
//! - `vqf`: the `vqf-rs` crate, default parameters, `quat_9d` / `quat_6d`. Its quaternion is
//!   already world (east, north, up) from sensor. vqf-rs has no offline (acausal) mode, so VQF
//!   has causal rows only.
//! - `fusion`: the `fusion-ahrs` crate (x-io's Fusion), east-north-up convention (output world
//!   from sensor), gain 0.1 with acceleration and magnetic rejection on (10°, 10°, 5 s timeout:
//!   the crate's suggested values) and its gyroscope offset correction (`Bias`, default
//!   settings) in front, as in BROAD's published Fusion figures; inputs in deg/s and g, `f32`.
//! - `madgwick`: the `ahrs` crate's Madgwick, beta 0.12 (BROAD's best common value), `update`
//!   (9D) and `update_imu` (6D). Its earth frame is north-west-up (the magnetic reference is
//!   kept in x–z), world from sensor, so its quaternion is turned by +90° about the vertical to
//!   east-north-up.
//!
//! Bad input (no such directory, a corrupt file) is one sentence on stderr and exit code 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use nalgebra::{Quaternion, UnitQuaternion, Vector3};
use proprio::eval::{self, AngleErrors, Trial};
use proprio::pipeline::{smooth_orientation, AhrsFilter, AhrsParams, ImuSi, OrientationFilter};
use serde::Serialize;

const USAGE: &str = "usage: broad_eval [DIR] [--json] [--rates 285.7,100,50] [--repeat 3] \
                     [--filters proprio,vqf,fusion,madgwick] [--dims 9D,6D]";

/// Standard gravity, for Fusion's accelerometer input in g.
const G_M_S2: f64 = 9.806_65;

/// BROAD's best common Madgwick gain.
const MADGWICK_BETA: f64 = 0.12;

/// Fusion's gain in BROAD's published comparison.
const FUSION_GAIN: f32 = 0.1;

struct Args {
    dir: PathBuf,
    json: bool,
    rates: Vec<f64>,
    /// Each filter loop runs this many times; the fastest run is its time.
    repeat: u32,
    filters: Vec<Filter>,
    /// With the magnetometer (9D), without (6D), or both.
    with_mag: Vec<bool>,
}

/// The items of a comma-separated list, each parsed by `parse` (its error names the item).
fn list<T>(
    flag: &str,
    text: Option<String>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, String> {
    let text = text.ok_or_else(|| format!("{flag} needs a comma-separated list."))?;
    text.split(',')
        .map(|item| {
            parse(item.trim()).ok_or_else(|| format!("{:?} is not a valid value of {flag}.", item))
        })
        .collect()
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut dir = None;
    let mut json = false;
    let mut rates = vec![285.7, 100.0, 50.0];
    let mut repeat = 3;
    let mut filters = vec![
        Filter::Proprio,
        Filter::Vqf,
        Filter::Fusion,
        Filter::Madgwick,
    ];
    let mut with_mag = vec![true, false];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--json" => json = true,
            "--rates" => {
                rates = list("--rates", args.next(), |r| {
                    r.parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0)
                })?;
            }
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|n| n.parse::<u32>().ok())
                    .filter(|&n| n >= 1)
                    .ok_or("--repeat needs a whole number of runs, 1 or more.")?;
            }
            "--filters" => {
                filters = list("--filters", args.next(), |name| {
                    Filter::ALL.into_iter().find(|f| f.name() == name)
                })?;
            }
            "--dims" => {
                with_mag = list("--dims", args.next(), |dims| match dims {
                    "9D" | "9d" => Some(true),
                    "6D" | "6d" => Some(false),
                    _ => None,
                })?;
            }
            flag if flag.starts_with('-') => {
                return Err(format!("unknown option {flag}; {USAGE}"));
            }
            path if dir.is_none() => dir = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument {extra}; {USAGE}")),
        }
    }
    let dir =
        dir.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/broad"));
    Ok(Some(Args {
        dir,
        json,
        rates,
        repeat,
        filters,
        with_mag,
    }))
}

fn load(dir: &Path) -> Result<Vec<Trial>, String> {
    let index_path = dir.join("index.json");
    let text = std::fs::read_to_string(&index_path)
        .map_err(|e| format!("cannot read {}: {e}.", index_path.display()))?;
    let infos = eval::parse_index(&text).map_err(|e| format!("{}: {e}.", index_path.display()))?;
    infos
        .iter()
        .map(|info| {
            let path = dir.join(format!("{}.f32", info.name));
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("cannot read {}: {e}.", path.display()))?;
            eval::parse_trial(info, &bytes).map_err(|e| format!("{}: {e}.", path.display()))
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Filter {
    Proprio,
    Vqf,
    Fusion,
    Madgwick,
}

impl Filter {
    const ALL: [Filter; 4] = [
        Filter::Proprio,
        Filter::Vqf,
        Filter::Fusion,
        Filter::Madgwick,
    ];

    fn name(self) -> &'static str {
        match self {
            Filter::Proprio => "proprio",
            Filter::Vqf => "vqf",
            Filter::Fusion => "fusion",
            Filter::Madgwick => "madgwick",
        }
    }
}

#[derive(Clone, Copy)]
struct Config {
    filter: Filter,
    offline: bool,
    with_mag: bool,
}

impl Config {
    fn mode(self) -> &'static str {
        if self.offline {
            "offline"
        } else {
            "causal"
        }
    }

    fn dims(self) -> &'static str {
        if self.with_mag {
            "9D"
        } else {
            "6D"
        }
    }
}

/// The rows to run, in table order, limited to the chosen filters and dimensions.
fn configs(filters: &[Filter], with_mag: &[bool]) -> Vec<Config> {
    let mut out = Vec::new();
    for (filter, offline) in [
        (Filter::Proprio, false),
        (Filter::Proprio, true),
        (Filter::Vqf, false),
        (Filter::Fusion, false),
        (Filter::Madgwick, false),
    ] {
        if !filters.contains(&filter) {
            continue;
        }
        for &with_mag in with_mag {
            out.push(Config {
                filter,
                offline,
                with_mag,
            });
        }
    }
    out
}

fn unit(w: f64, x: f64, y: f64, z: f64) -> UnitQuaternion<f64> {
    UnitQuaternion::from_quaternion(Quaternion::new(w, x, y, z))
}

/// Runs one filter over one trial: world (east, north, up) from sensor for every sample, and
/// the nanoseconds spent in the filter loop (the fastest of `repeat` runs of it).
fn run(config: Config, trial: &Trial, repeat: u32) -> (Vec<UnitQuaternion<f64>>, u128) {
    let dt = 1.0 / trial.rate_hz;
    let with_mag = config.with_mag;
    let mut best: Option<(Vec<UnitQuaternion<f64>>, u128)> = None;
    let mut keep = |out: Vec<UnitQuaternion<f64>>, ns: u128| {
        if best.as_ref().is_none_or(|(_, b)| ns < *b) {
            best = Some((out, ns));
        }
    };
    match (config.filter, config.offline) {
        (Filter::Proprio, offline) => {
            let params = AhrsParams {
                use_mag: with_mag,
                ..AhrsParams::default()
            };
            let input: Vec<ImuSi> = trial.samples.iter().map(|s| s.imu_si(with_mag)).collect();
            for _ in 0..repeat {
                let start = Instant::now();
                let out = if offline {
                    proprio_offline_loop(&input, dt, &params)
                } else {
                    proprio_causal_loop(&input, dt, params)
                };
                keep(out, start.elapsed().as_nanos());
            }
        }
        (Filter::Vqf, _) => {
            let input: Vec<[[f64; 3]; 3]> = trial
                .samples
                .iter()
                .map(|s| [s.gyr_rad_s.into(), s.acc_m_s2.into(), s.mag_ut.into()])
                .collect();
            for _ in 0..repeat {
                let start = Instant::now();
                let raw = vqf_loop(&input, dt, with_mag);
                let ns = start.elapsed().as_nanos();
                // vqf-rs: world (east, north, up) from sensor already.
                keep(
                    raw.iter().map(|q| unit(q[0], q[1], q[2], q[3])).collect(),
                    ns,
                );
            }
        }
        (Filter::Fusion, _) => {
            let v = |a: Vector3<f64>, scale: f64| {
                fusion_ahrs::Vector::new(
                    (a.x * scale) as f32,
                    (a.y * scale) as f32,
                    (a.z * scale) as f32,
                )
            };
            let input: Vec<[fusion_ahrs::Vector; 3]> = trial
                .samples
                .iter()
                .map(|s| {
                    [
                        v(s.gyr_rad_s, 1f64.to_degrees()),
                        v(s.acc_m_s2, 1.0 / G_M_S2),
                        v(s.mag_ut, 1.0),
                    ]
                })
                .collect();
            for _ in 0..repeat {
                let start = Instant::now();
                let raw = fusion_loop(&input, trial.rate_hz as f32, with_mag);
                let ns = start.elapsed().as_nanos();
                // Convention::Enu: world (east, north, up) from sensor.
                keep(
                    raw.iter().map(|q| unit(q[0], q[1], q[2], q[3])).collect(),
                    ns,
                );
            }
        }
        (Filter::Madgwick, _) => {
            let input: Vec<[[f64; 3]; 3]> = trial
                .samples
                .iter()
                .map(|s| [s.gyr_rad_s.into(), s.acc_m_s2.into(), s.mag_ut.into()])
                .collect();
            // Madgwick's earth frame is north-west-up; east-north-up is it turned +90° about up.
            let nwu_to_enu =
                UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 90f64.to_radians());
            for _ in 0..repeat {
                let start = Instant::now();
                let raw = madgwick_loop(&input, dt, with_mag);
                let ns = start.elapsed().as_nanos();
                let out = raw
                    .iter()
                    .map(|q| nwu_to_enu * unit(q[0], q[1], q[2], q[3]))
                    .collect();
                keep(out, ns);
            }
        }
    }
    best.expect("repeat is at least 1")
}

// The timed loops, one function each and never inlined, so that an instruction profiler
// (callgrind, see the crate docs) can attribute the work to each filter.

#[inline(never)]
fn proprio_causal_loop(input: &[ImuSi], dt: f64, params: AhrsParams) -> Vec<UnitQuaternion<f64>> {
    let mut filter = AhrsFilter::new(params);
    input
        .iter()
        .map(|imu| filter.update(imu, dt).world_from_imu)
        .collect()
}

#[inline(never)]
fn proprio_offline_loop(input: &[ImuSi], dt: f64, params: &AhrsParams) -> Vec<UnitQuaternion<f64>> {
    smooth_orientation(input, dt, params)
}

#[inline(never)]
fn vqf_loop(input: &[[[f64; 3]; 3]], dt: f64, with_mag: bool) -> Vec<[f64; 4]> {
    let mut vqf = vqf_rs::VQF::new(dt, None, None, None);
    let mut raw = Vec::with_capacity(input.len());
    for &[gyr, acc, mag] in input {
        let q = if with_mag {
            vqf.update(gyr, acc, Some(mag));
            vqf.quat_9d()
        } else {
            vqf.update(gyr, acc, None);
            vqf.quat_6d()
        };
        raw.push([q.0, q.1, q.2, q.3]);
    }
    raw
}

#[inline(never)]
fn fusion_loop(input: &[[fusion_ahrs::Vector; 3]], rate_hz: f32, with_mag: bool) -> Vec<[f64; 4]> {
    use fusion_ahrs::{Ahrs, AhrsSettings, Bias, BiasSettings, Convention};
    let mut ahrs = Ahrs::with_settings(AhrsSettings {
        sample_rate: rate_hz,
        convention: Convention::Enu,
        gain: FUSION_GAIN,
        acceleration_rejection: 10.0,
        magnetic_rejection: 10.0,
        rejection_timeout: 5.0,
        ..AhrsSettings::default()
    });
    let mut bias = Bias::with_settings(BiasSettings {
        sample_rate: rate_hz,
        ..BiasSettings::default()
    });
    let mut raw = Vec::with_capacity(input.len());
    for &[gyr, acc, mag] in input {
        let gyr = bias.update(gyr);
        if with_mag {
            ahrs.update(gyr, acc, mag);
        } else {
            ahrs.update_no_magnetometer(gyr, acc);
        }
        let q = ahrs.quaternion();
        raw.push([q.w.into(), q.x.into(), q.y.into(), q.z.into()]);
    }
    raw
}

#[inline(never)]
fn madgwick_loop(input: &[[[f64; 3]; 3]], dt: f64, with_mag: bool) -> Vec<[f64; 4]> {
    use ahrs::Ahrs;
    let mut madgwick = ahrs::Madgwick::new(dt, MADGWICK_BETA);
    let mut raw = Vec::with_capacity(input.len());
    // The crate uses nalgebra 0.34: its vectors are made from plain arrays.
    for &[gyr, acc, mag] in input {
        let gyr = gyr.into();
        let updated = if with_mag {
            madgwick.update(&gyr, &acc.into(), &mag.into()).is_ok()
        } else {
            madgwick.update_imu(&gyr, &acc.into()).is_ok()
        };
        if !updated {
            // A zero accelerometer or magnetometer reading: integrate the gyroscope.
            madgwick.update_gyro(&gyr);
        }
        let q = madgwick.quat;
        raw.push([q.w, q.i, q.j, q.k]);
    }
    raw
}

#[derive(Serialize)]
struct TrialResult {
    name: String,
    total_deg: Option<f64>,
    heading_deg: Option<f64>,
    inclination_deg: Option<f64>,
}

#[derive(Serialize)]
struct Row {
    rate_hz: f64,
    filter: &'static str,
    mode: &'static str,
    dims: &'static str,
    total_deg: f64,
    heading_deg: f64,
    inclination_deg: f64,
    ns_per_sample: f64,
    trials: Vec<TrialResult>,
}

#[derive(Serialize)]
struct Report {
    results: Vec<Row>,
}

fn evaluate(config: Config, rate_hz: f64, trials: &[Trial], repeat: u32) -> Row {
    let mut ns = 0u128;
    let mut samples = 0usize;
    let mut per_trial = Vec::with_capacity(trials.len());
    let mut sum = AngleErrors::default();
    let mut scored = 0usize;
    for trial in trials {
        let (estimates, trial_ns) = run(config, trial, repeat);
        ns += trial_ns;
        samples += trial.samples.len();
        let errors = if config.with_mag {
            eval::rmse(trial, &estimates)
        } else {
            eval::rmse_6d(trial, &estimates)
        };
        if let Some(e) = errors {
            sum.total_deg += e.total_deg;
            sum.heading_deg += e.heading_deg;
            sum.inclination_deg += e.inclination_deg;
            scored += 1;
        }
        per_trial.push(TrialResult {
            name: trial.name.clone(),
            total_deg: errors.map(|e| e.total_deg),
            heading_deg: errors.map(|e| e.heading_deg),
            inclination_deg: errors.map(|e| e.inclination_deg),
        });
    }
    let mean = |x: f64| {
        if scored > 0 {
            x / scored as f64
        } else {
            f64::NAN
        }
    };
    Row {
        rate_hz,
        filter: config.filter.name(),
        mode: config.mode(),
        dims: config.dims(),
        total_deg: mean(sum.total_deg),
        heading_deg: mean(sum.heading_deg),
        inclination_deg: mean(sum.inclination_deg),
        ns_per_sample: if samples > 0 {
            ns as f64 / samples as f64
        } else {
            f64::NAN
        },
        trials: per_trial,
    }
}

/// Short column labels for the trials: the name up to its first `_` when those are unique.
fn labels(trials: &[Trial]) -> Vec<String> {
    let short: Vec<String> = trials
        .iter()
        .map(|t| t.name.split('_').next().unwrap_or(&t.name).to_owned())
        .collect();
    let unique = short
        .iter()
        .enumerate()
        .all(|(i, s)| !short[..i].contains(s));
    if unique {
        short
    } else {
        (1..=trials.len()).map(|i| format!("t{i}")).collect()
    }
}

/// The table of one rate, as text.
fn rate_table(rate_hz: f64, rows: &[Row], trials: &[Trial]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let n = trials.len();
    let _ = writeln!(
        out,
        "BROAD, {n} trials at {rate_hz} Hz: RMSE in degrees (mean over trials), ns per sample.\n\
         6D rows: total and heading after removing one constant heading offset per trial."
    );
    let _ = writeln!(
        out,
        "{:<9} {:<8} {:<4} {:>8} {:>8} {:>8} {:>10}",
        "filter", "mode", "dims", "total", "heading", "incl", "ns/sample"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<9} {:<8} {:<4} {:>8.2} {:>8.2} {:>8.2} {:>10.0}",
            r.filter,
            r.mode,
            r.dims,
            r.total_deg,
            r.heading_deg,
            r.inclination_deg,
            r.ns_per_sample
        );
    }
    let _ = writeln!(out);
    let labels = labels(trials);
    let _ = writeln!(
        out,
        "Per trial at {rate_hz} Hz, total / heading / inclination RMSE in degrees:"
    );
    let _ = write!(out, "{:<9} {:<8} {:<4}", "filter", "mode", "dims");
    for l in &labels {
        let _ = write!(out, " {l:>17}");
    }
    let _ = writeln!(out);
    for r in rows {
        let _ = write!(out, "{:<9} {:<8} {:<4}", r.filter, r.mode, r.dims);
        for t in &r.trials {
            let cell = match (t.total_deg, t.heading_deg, t.inclination_deg) {
                (Some(a), Some(b), Some(c)) => format!("{a:.2}/{b:.2}/{c:.2}"),
                _ => "no evaluated".to_owned(),
            };
            let _ = write!(out, " {cell:>17}");
        }
        let _ = writeln!(out);
    }
    for (l, t) in labels.iter().zip(trials) {
        if *l != t.name {
            let _ = writeln!(out, "  {l}: {}", t.name);
        }
    }
    let _ = writeln!(out);
    out
}

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("broad_eval: {message}");
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> Result<(), String> {
    let Some(args) = parse_args()? else {
        emit(&format!("{USAGE}\n"))?;
        return Ok(());
    };
    let trials = load(&args.dir)?;
    let mut results = Vec::new();
    for &rate_hz in &args.rates {
        let at_rate: Vec<Trial> = trials
            .iter()
            .map(|t| {
                if (rate_hz - t.rate_hz).abs() <= 1e-3 * t.rate_hz {
                    Ok(t.clone())
                } else {
                    eval::decimate(t, rate_hz).map_err(|e| format!("{e}."))
                }
            })
            .collect::<Result<_, String>>()?;
        let rows: Vec<Row> = configs(&args.filters, &args.with_mag)
            .into_iter()
            .map(|c| evaluate(c, rate_hz, &at_rate, args.repeat))
            .collect();
        if !args.json {
            emit(&rate_table(rate_hz, &rows, &at_rate))?;
        }
        results.extend(rows);
    }
    if args.json {
        let text = serde_json::to_string(&Report { results })
            .map_err(|e| format!("cannot write the JSON report: {e}."))?;
        emit(&format!("{text}\n"))?;
    }
    Ok(())
}

/// Writes `text` to standard output; a reader that went away (`| head`) ends the run quietly.
fn emit(text: &str) -> Result<(), String> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to standard output: {e}."))
        }
        _ => Ok(()),
    }
}
