//! The application edge: the command line, links, files and the terminal. Everything here is
//! thin; the work is done by the sans-IO core.
//!
//! # Brief overview
//! - [`Cli`]: the commands and their flags (clap).
//! - `link`: byte sources, the simulator (paced or as fast as possible), serial ports and
//!   Bluetooth (`ble`), each supervised: losses reported, links brought back.
//! - `scan`: `proprio devices`, what is plugged in and in range.
//! - `store`: the data directory and recording files (readable by the user only).
//! - `calibrate`: `proprio calibrate`, a guided calibration flow on a live link; the profile
//!   stored per device (and per user).
//! - `run`: a live drill: link → recording → session → live view → result.
//! - `view`: the live view: its model (what is shown when), its drawing (ratatui), the
//!   terminal, the progress line without one.
//! - `plan`: `proprio plan`, and the plan's level and baseline for a new session.
//! - `guided`: `proprio session`, the guided session: check-in, today's drills one by one
//!   (instructions, countdown, the drill's live view, rest, result), the summary.
//! - `db`: the history database (SQLite): sessions indexed by recording, results with their
//!   versions, users, devices, calibrations, check-ins, pain stops, the plan's level changes.
//! - `history`: `proprio history`, `proprio progress` and `proprio rescore`.
//! - `config`: the configuration file, whose values are the flags' defaults.
//! - `sim_device`: the simulator as a device on a pseudo-terminal or standard input/output.
//! - `measure`: `proprio measure`, the measures of a recording or another tool's CSV
//!   (`measure_csv`).
//! - `exchange`: `proprio export` (samples in SI units and results, CSV or JSON) and
//!   `proprio import` (another tool's recording as a replayable session).
//! - `report`: `proprio report`, plots of sessions and of progress (SVG, PNG, one HTML page).

/// `println!` for the command's output. When the reader has gone (`proprio drills | head -3`)
/// the program ends quietly, as command-line tools do, instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = writeln!(std::io::stdout(), $($arg)*) {
            $crate::app::output_failed(&error);
        }
    }};
}

mod ble;
mod board_args;
mod calibrate;
mod config;
pub mod db;
mod exchange;
mod guided;
mod history;
mod link;
mod measure;
mod measure_csv;
mod output;
mod plan;
mod report;
mod run;
mod scan;
mod signals;
mod sim_device;
mod store;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::cues::CueKinds;
use crate::drill::DrillKind;
use crate::sim::{Faults, SimConfig, SimOutput, Stall};

/// Exit status when a replayed recording was cut off: the result covers what it held.
pub const EXIT_INCOMPLETE: u8 = 3;

/// proprio: a posture and balance trainer for low back pain rehabilitation.
///
/// Reads a wearable IMU or a balance board, scores balance drills, and records every session so
/// it can be replayed. No hardware? Use `--source sim`: a simulated person on a simulated device.
#[derive(Debug, Parser)]
#[command(name = "proprio", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Where recordings are kept [default: the platform's data directory, e.g.
    /// ~/.local/share/proprio].
    #[arg(long, global = true, env = "PROPRIO_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Whose sessions: several people can train on one machine, each with their own history
    /// and plan.
    #[arg(long, global = true, env = "PROPRIO_USER", value_name = "NAME", default_value = "default", value_parser = parse_user)]
    user: String,

    /// The configuration file, whose values are the flags' defaults (see the README) [default:
    /// the platform's config directory, e.g. ~/.config/proprio/config.toml].
    #[arg(long, global = true, env = "PROPRIO_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Try proprio without hardware: a short rocker-board drill on the simulator with a live
    /// view, then the result and where the recording was written.
    Demo {
        /// Seed of the simulated person and device (the same seed gives the same session).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Don't show the live view (also off when the output is not a terminal).
        #[arg(long)]
        no_live: bool,
    },
    /// List the drills, with what each trains and why it helps the back.
    Drills,
    /// List serial ports and nearby Bluetooth devices, with the ones proprio recognises.
    Devices {
        /// How long to scan for Bluetooth devices, in seconds.
        #[arg(long, default_value_t = 4.0, value_name = "S", value_parser = parse_scan_s)]
        scan: f64,
    },
    /// Run a drill.
    Drill(DrillArgs),
    /// Calibrate a device, guided step by step (the steps advance on what the sensor shows, so
    /// a flow also runs unattended); the profile is stored for the device and every later
    /// session on it applies it and records which it used.
    Calibrate(calibrate::CalibrateArgs),
    /// The stored calibration profiles that apply to you: each device's own and yours (the
    /// latest of each kind is the one sessions apply), with what each found.
    Calibrations {
        /// Print them as one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// A guided session: a check-in (pain 0–10, how you feel), then today's drills from your
    /// plan, each with what it trains and why, a countdown, the drill, a rest and its result,
    /// and a summary. `p` (STOP, IT HURTS) works on every screen.
    Session(SessionArgs),
    /// Where you stand on each drill: level, baseline and its minimal detectable change, last
    /// score and verdict, and what is next and why.
    Plan {
        /// Print the plan as one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Your sessions, oldest first: date, drill, level, sensor, duration, how it ended, score,
    /// verdict and recording.
    History(history::HistoryArgs),
    /// Per drill: the trend of your score (slope per week, first and last), the baseline's
    /// minimal detectable change, and the plan's level changes with their dates.
    Progress(history::HistoryArgs),
    /// Re-run your stored recordings through the current signal chain and show what changed;
    /// the new results are kept beside the old ones (each with its version).
    Rescore(history::RescoreArgs),
    /// Re-run a recording through decoding, the pipeline and the drill; prints the same result
    /// as the live run. Exits with 3 if the recording was cut off (the result covers what it held).
    Replay {
        /// The recording file (`.prec`).
        file: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Compute the posturography or gait measures of a proprio recording or of another tool's
    /// CSV (COP, or a lumbar IMU); see docs/measures.md.
    Measure(measure::MeasureArgs),
    /// Export sessions: their samples in SI units (decoded as a replay decodes them) and their
    /// results, as CSV or JSON; see README.md for the columns.
    Export(exchange::export::ExportArgs),
    /// Import another tool's IMU recording (x-io Fusion CSV, WitMotion's export, or any CSV
    /// with a column mapping) as a proprio session that replays and measures like a native one.
    Import(exchange::import::ImportArgs),
    /// Write a report: plots of a session (stabilogram, tilt or trunk over time with the band
    /// and events, a walk's steps) and of progress over weeks, as SVG, PNG and one HTML page to
    /// hand to a clinician.
    Report(report::ReportArgs),
    /// Run the simulator as a device in real time: on a pseudo-terminal, so that
    /// `proprio drill … --source serial:PATH` can connect to it (prints the port's path), or on
    /// standard input and output (for a fake Bluetooth stack to carry).
    SimDevice {
        /// Offer the device on a pseudo-terminal.
        #[arg(long, required_unless_present = "stdio", conflicts_with = "stdio")]
        serial: bool,
        /// Read host bytes from standard input and write device bytes to standard output.
        #[arg(long)]
        stdio: bool,
        /// Also make PATH a symbolic link to the port, kept pointing at it across unplugs
        /// (--serial only).
        #[arg(long, value_name = "PATH", conflicts_with = "stdio")]
        link: Option<PathBuf>,
        /// Unplug the device AT seconds after start for DUR seconds (repeatable; --serial only).
        #[arg(long, value_name = "AT:DUR", value_parser = parse_stall, conflicts_with = "stdio")]
        unplug: Vec<Stall>,
        /// What the device speaks: proprio's protocol, or a WitMotion WT901C's frames (connect
        /// with --source witmotion-serial:PATH).
        #[arg(long, value_enum, default_value = "proprio")]
        format: SimFormat,
        /// The simulated person does a calibration flow's routine instead of a drill (connect
        /// with `proprio calibrate FLOW --source serial:PATH`; `mount` on the back).
        #[arg(long, value_enum, value_name = "FLOW")]
        calibration: Option<calibrate::Flow>,
        #[command(flatten)]
        hx711: board_args::Hx711Args,
        #[command(flatten)]
        sim: SimArgs,
    },
}

/// What `sim-device` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SimFormat {
    /// proprio's firmware protocol.
    Proprio,
    /// WitMotion WT901C / JY901 serial frames.
    WitmotionSerial,
    /// WitMotion WT901BLECL packets (what its notifications carry; with --stdio).
    WitmotionBle,
    /// A balance board speaking proprio's protocol (connect with --source serial:PATH and
    /// the quiet-stance drill).
    ProprioBoard,
    /// A DIY four-HX711 balance board printing text lines laid out as the --hx711-* flags say
    /// (connect with --source hx711-text:PATH and the same flags).
    Hx711Text,
}

/// The drills that can be run, by command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DrillName {
    /// Rocker-board hold: keep a one-axis board level.
    RockerHold,
    /// Wobble-board hold: keep a board that tips every way level.
    WobbleHold,
    /// Quiet stance: stand still on a balance board, or with the wearable on the lower back.
    QuietStance,
    /// Single-leg stance on a balance board: time held, touch-downs.
    SingleLeg,
    /// Tandem stance (heel to toe) on a balance board.
    TandemStance,
    /// Heel-to-toe walk with the wearable on the lower back.
    TandemWalk,
    /// Neutral-spine hold with the wearable on the lower back.
    NeutralSpine,
    /// Weight shift on a balance board: move your centre of pressure to targets.
    WeightShift,
}

impl DrillName {
    /// The command-line name of `kind`.
    fn from_kind(kind: DrillKind) -> DrillName {
        match kind {
            DrillKind::RockerHold => DrillName::RockerHold,
            DrillKind::WobbleHold => DrillName::WobbleHold,
            DrillKind::QuietStance => DrillName::QuietStance,
            DrillKind::SingleLeg => DrillName::SingleLeg,
            DrillKind::TandemStance => DrillName::TandemStance,
            DrillKind::TandemWalk => DrillName::TandemWalk,
            DrillKind::NeutralSpine => DrillName::NeutralSpine,
            DrillKind::WeightShift => DrillName::WeightShift,
        }
    }
}

impl From<DrillName> for DrillKind {
    fn from(name: DrillName) -> Self {
        match name {
            DrillName::RockerHold => DrillKind::RockerHold,
            DrillName::WobbleHold => DrillKind::WobbleHold,
            DrillName::QuietStance => DrillKind::QuietStance,
            DrillName::SingleLeg => DrillKind::SingleLeg,
            DrillName::TandemStance => DrillKind::TandemStance,
            DrillName::TandemWalk => DrillKind::TandemWalk,
            DrillName::NeutralSpine => DrillKind::NeutralSpine,
            DrillName::WeightShift => DrillKind::WeightShift,
        }
    }
}

#[derive(Debug, Args)]
struct DrillArgs {
    /// Which drill (see `proprio drills`).
    #[arg(value_enum)]
    drill: DrillName,
    /// Where the data comes from: `sim` (simulated device: a wearable on a rocker or wobble
    /// board, a balance board for the standing drills and weight-shift (for quiet-stance with
    /// `--sensor wearable`, a wearable on a standing person's lower back), or a wearable on a
    /// walker's lower back for tandem-walk), `serial:PATH[@BAUD]` (a device speaking proprio's
    /// protocol; default 115200 baud), or `hx711-text:PATH[@BAUD]` (a DIY HX711 balance board
    /// printing text lines; default 57600 baud; see the --hx711-* flags).
    #[arg(long, default_value = "sim", value_name = "SOURCE")]
    source: String,
    /// Level, 1 (easiest) to 5; sets the duration, and the target band (rocker-hold,
    /// wobble-hold), the stance, eyes and surface (quiet-stance; single-leg; tandem-stance,
    /// levels 1–4), the band (neutral-spine, levels 1–4), the steps (tandem-walk, levels 1–4),
    /// or the targets' distance, size, hold and time (weight-shift) [default: the plan's level
    /// for the drill, see `proprio plan`; 1 to start with].
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
    level: Option<u8>,
    /// Override the level's duration (a walk's time limit), in seconds (not for weight-shift,
    /// whose length is its targets').
    #[arg(long, value_name = "S", value_parser = parse_duration_s)]
    duration: Option<f64>,
    /// Quiet stance: the sensor, a balance board or the wearable on the lower back [default:
    /// with `--source sim`, the board; with a device, the one that introduces itself (say
    /// which to expect, for the plan's baseline)].
    #[arg(long, value_enum, value_name = "SENSOR")]
    sensor: Option<SensorArg>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// Don't show the live view; with `--source sim`, run as fast as the computer can.
    #[arg(long)]
    no_live: bool,
    /// The cues to give, comma-separated: `visual` (the live view marks leaving the band and
    /// flashes CORRECTED on coming back), `sound` (the terminal bell: once on leaving the band,
    /// twice on coming back), `haptic` (a proprio wearable buzzes on leaving the band, at most
    /// every 3 s); `none` for none.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "visual,sound,haptic",
        value_name = "KINDS"
    )]
    cues: Vec<CueName>,
    /// Don't buzz the wearable when the board leaves the band (the same as leaving `haptic`
    /// out of --cues).
    #[arg(long)]
    no_haptics: bool,
    /// The rocker or wobble board's edge limit (tilt at which its edge or rim touches the
    /// floor), degrees.
    #[arg(long, default_value_t = 15.0, value_name = "DEG", value_parser = parse_limit_deg)]
    board_limit: f64,
    /// Balance board: the distances between its load cells, WIDTHxDEPTH in mm (left–right x
    /// front–back; the Wii Balance Board's are 433x238).
    #[arg(long, default_value = "433x238", value_name = "WxD", value_parser = board_args::parse_board_geometry)]
    board_geometry: crate::pipeline::BoardGeometry,
    #[command(flatten)]
    hx711: board_args::Hx711Args,
    #[command(flatten)]
    sim: SimArgs,
}

#[derive(Debug, Args)]
struct SessionArgs {
    /// Where the data comes from, as for `proprio drill` (`sim`, `serial:PATH[@BAUD]`,
    /// `hx711-text:PATH[@BAUD]`, `ble:…`, `witmotion-serial:PATH`).
    #[arg(long, default_value = "sim", value_name = "SOURCE")]
    source: String,
    /// The sensor you have, which picks today's drills: the IMU wearable on your lower back
    /// (neutral-spine, quiet-stance, tandem-walk) or a balance board (quiet-stance,
    /// weight-shift, tandem-stance, single-leg) [default: the one the source is, else the
    /// wearable].
    #[arg(long, value_enum, value_name = "SENSOR")]
    sensor: Option<SensorArg>,
    /// Today's drills, comma-separated, instead of the plan's list for the sensor (at the
    /// plan's level each).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "DRILLS")]
    drills: Vec<DrillName>,
    /// Pain now, 0 (none) to 10 (worst): the check-in without asking (needed without a
    /// terminal, with --feeling).
    #[arg(long, value_name = "0-10", value_parser = clap::value_parser!(u8).range(0..=10))]
    pain: Option<u8>,
    /// How you feel compared with last time: better, same or worse (with --pain).
    #[arg(long, value_name = "FEELING", value_parser = parse_feeling)]
    feeling: Option<crate::guided::Feeling>,
    /// The rest between drills, in seconds (Enter skips it).
    #[arg(long, default_value_t = 30.0, value_name = "S", value_parser = parse_rest_s)]
    rest: f64,
    /// Don't show the screens: run unattended (also when there is no terminal), printing
    /// progress and results as plain text; needs --pain and --feeling.
    #[arg(long)]
    no_live: bool,
    /// The cues to give in each drill, as for `proprio drill`.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "visual,sound,haptic",
        value_name = "KINDS"
    )]
    cues: Vec<CueName>,
    /// The rocker or wobble board's edge limit, degrees (for those drills, with --drills).
    #[arg(long, default_value_t = 15.0, value_name = "DEG", value_parser = parse_limit_deg)]
    board_limit: f64,
    /// Balance board: the distances between its load cells, WIDTHxDEPTH in mm.
    #[arg(long, default_value = "433x238", value_name = "WxD", value_parser = board_args::parse_board_geometry)]
    board_geometry: crate::pipeline::BoardGeometry,
    #[command(flatten)]
    hx711: board_args::Hx711Args,
    #[command(flatten)]
    sim: SimArgs,
}

fn parse_feeling(s: &str) -> Result<crate::guided::Feeling, String> {
    use crate::guided::Feeling;
    match s {
        "better" => Ok(Feeling::Better),
        "same" => Ok(Feeling::Same),
        "worse" => Ok(Feeling::Worse),
        _ => Err(format!("'{s}' is not better, same or worse")),
    }
}

fn parse_rest_s(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=600.0).contains(&x) => Ok(x),
        _ => Err(format!("'{s}' is not a rest in seconds (0 to 600)")),
    }
}

/// A kind of cue, as `--cues` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CueName {
    /// On the screen: out of the band, and CORRECTED on coming back.
    Visual,
    /// The terminal bell.
    Sound,
    /// The wearable's buzz.
    Haptic,
    /// No cues.
    None,
}

impl DrillArgs {
    /// The cues asked for, or why they make no sense.
    fn cue_kinds(&self) -> anyhow::Result<CueKinds> {
        let has = |name| self.cues.contains(&name);
        if has(CueName::None) && self.cues.len() > 1 {
            anyhow::bail!("--cues none cannot be combined with other cues");
        }
        Ok(CueKinds {
            visual: has(CueName::Visual),
            sound: has(CueName::Sound),
            haptic: has(CueName::Haptic) && !self.no_haptics,
        })
    }
}

/// `--sensor`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SensorArg {
    /// A balance board with four load cells.
    Board,
    /// The IMU wearable on the lower back.
    Wearable,
}

impl From<SensorArg> for crate::scoring::DeviceClass {
    fn from(sensor: SensorArg) -> Self {
        match sensor {
            SensorArg::Board => crate::scoring::DeviceClass::BalanceBoard,
            SensorArg::Wearable => crate::scoring::DeviceClass::Imu,
        }
    }
}

/// Options of the simulated person and device.
#[derive(Debug, Clone, Args)]
struct SimArgs {
    /// Seed of the simulated person and device (the same seed gives the same bytes).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated person's balance skill, 0 (first time on a board) to 1 (expert).
    #[arg(long, default_value_t = 0.6, value_parser = parse_unit)]
    skill: f64,
    /// Sample rate asked of the device, Hz.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(10..=400))]
    rate: u16,
    /// Simulated link: probability that a frame is lost.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_unit)]
    sim_drop: f64,
    /// Simulated link: probability that a frame is corrupted (one bit flipped).
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_unit)]
    sim_corrupt: f64,
    /// Simulated link: probability of line noise (random bytes) before a frame.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_unit)]
    sim_garbage: f64,
    /// Simulated device stalls (sends nothing) from AT seconds for DUR seconds.
    #[arg(long, value_name = "AT:DUR", value_parser = parse_stall)]
    sim_stall: Option<Stall>,
    /// The simulated device is straight off the reel: its sensors have the errors that
    /// `proprio calibrate` finds (accelerometer scale and cross-axis terms, hard and soft
    /// iron; a balance board's cell gains), drawn from the seed, so the same seed is the same
    /// device in every command.
    #[arg(long)]
    sim_uncalibrated: bool,
    /// The simulated wearable is strapped on crooked (on the back or the board; drawn from the
    /// seed: any turn about the vertical and up to 20° of tilt), as `proprio calibrate mount`
    /// finds.
    #[arg(long)]
    sim_crooked_strap: bool,
}

impl SimArgs {
    fn config(&self, board_limit_deg: f64) -> SimConfig {
        let mut config = SimConfig::new(self.seed);
        config.skill = self.skill;
        config.rate_hz = self.rate;
        config.board.limit_deg = board_limit_deg;
        config.faults = Faults {
            drop_prob: self.sim_drop,
            corrupt_prob: self.sim_corrupt,
            garbage_prob: self.sim_garbage,
            stall: self.sim_stall,
        };
        if self.sim_uncalibrated {
            config.sensor = crate::sim::SensorErrors::uncalibrated();
            config = config.with_uncalibrated_board();
        }
        if self.sim_crooked_strap {
            config = config.with_crooked_strap();
        }
        config
    }
}

fn parse_unit(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("'{s}' is not a number from 0 to 1")),
    }
}

fn parse_duration_s(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 86_400.0 => Ok(x),
        _ => Err(format!(
            "'{s}' is not a duration in seconds (more than 0, at most 86400)"
        )),
    }
}

fn parse_limit_deg(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (5.0..=45.0).contains(&x) => Ok(x),
        _ => Err(format!("'{s}' is not a board limit in degrees (5 to 45)")),
    }
}

fn parse_scan_s(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.5..=60.0).contains(&x) => Ok(x),
        _ => Err(format!("'{s}' is not a scan time in seconds (0.5 to 60)")),
    }
}

fn parse_user(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not a user name (1 to 64 letters, digits, '-', '_' or '.')"
        ))
    }
}

fn parse_stall(s: &str) -> Result<Stall, String> {
    let parsed = s.split_once(':').and_then(|(at, dur)| {
        let at_s = at
            .parse::<f64>()
            .ok()
            .filter(|x| *x >= 0.0 && x.is_finite())?;
        let duration_s = dur
            .parse::<f64>()
            .ok()
            .filter(|x| *x > 0.0 && x.is_finite())?;
        Some(Stall { at_s, duration_s })
    });
    parsed.ok_or_else(|| format!("'{s}' is not AT:DUR in seconds, e.g. 10:2"))
}

/// Ends the program after stdout could not be written: quietly (success) when the reader has
/// gone, with one sentence otherwise. Only called once everything worth keeping is on disk.
fn output_failed(error: &std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("proprio: cannot write the output: {error}");
    std::process::exit(1)
}

/// Runs the command line; returns the process exit status.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The configuration file's values are the flags' defaults: read before parsing.
    let command = match config::apply(Cli::command(), &args) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("proprio: bad configuration: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let cli = match Cli::from_arg_matches(&command.get_matches_from(args)) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("proprio: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let data_dir = cli.data_dir;
    let user = cli.user.as_str();
    // Read before parsing (see `main`); here only for `--help`.
    let _ = cli.config;
    match cli.command {
        Command::Demo { seed, no_live } => {
            let sim = SimArgs {
                seed,
                skill: 0.6,
                rate: 100,
                sim_drop: 0.0,
                sim_corrupt: 0.0,
                sim_garbage: 0.0,
                sim_stall: None,
                sim_uncalibrated: false,
                sim_crooked_strap: false,
            };
            let args = DrillArgs {
                drill: DrillName::RockerHold,
                source: "sim".into(),
                level: Some(1),
                duration: None,
                sensor: None,
                json: false,
                no_live,
                cues: vec![CueName::Visual, CueName::Sound, CueName::Haptic],
                no_haptics: false,
                board_limit: 15.0,
                board_geometry: crate::pipeline::BoardGeometry::default(),
                hx711: board_args::Hx711Args::default(),
                sim,
            };
            run::drill(data_dir, user, &args)
        }
        Command::Drills => {
            output::print_drills();
            Ok(ExitCode::SUCCESS)
        }
        Command::Devices { scan } => scan::list_devices(std::time::Duration::from_secs_f64(scan)),
        Command::Drill(args) => run::drill(data_dir, user, &args),
        Command::Calibrate(args) => calibrate::calibrate(data_dir, user, &args),
        Command::Calibrations { json } => calibrate::list(data_dir, user, json),
        Command::Session(args) => guided::session(data_dir, user, &args),
        Command::Plan { json } => plan::show(data_dir, user, json),
        Command::History(args) => history::history(data_dir, user, &args),
        Command::Progress(args) => history::progress(data_dir, user, &args),
        Command::Rescore(args) => history::rescore(data_dir, user, &args),
        Command::Replay { file, json } => run::replay(&file, json),
        Command::Measure(args) => measure::measure(&args),
        Command::Export(args) => exchange::export::export(&store::data_dir(data_dir)?, &args),
        Command::Import(args) => exchange::import::import(&store::data_dir(data_dir)?, user, &args),
        Command::Report(args) => report::report(&store::data_dir(data_dir)?, user, &args),
        Command::SimDevice {
            serial: _,
            stdio,
            link,
            unplug,
            format,
            calibration,
            hx711,
            sim,
        } => {
            let mut config = sim.config(15.0);
            config.output = match format {
                SimFormat::Proprio | SimFormat::ProprioBoard => SimOutput::Proprio,
                SimFormat::WitmotionSerial => SimOutput::WitmotionSerial,
                SimFormat::WitmotionBle => SimOutput::WitmotionBle,
                SimFormat::Hx711Text => SimOutput::Hx711Text,
            };
            let board_format = matches!(format, SimFormat::ProprioBoard | SimFormat::Hx711Text);
            if board_format {
                config.device = crate::sim::SimDevice::BalanceBoard;
            }
            if let Some(flow) = calibration {
                let kind = flow.kind(calibrate::On::Back);
                let board_flow = kind.device() == proprio_protocol::DeviceKind::BalanceBoard;
                if board_flow && !matches!(format, SimFormat::Proprio) && !board_format {
                    anyhow::bail!("--calibration board is a balance board's routine; --format speaks for an IMU");
                }
                if !board_flow && board_format {
                    anyhow::bail!(
                        "--calibration {} is a wearable's routine; --format speaks for a balance board",
                        kind.name()
                    );
                }
                config.device = flow.sim_device(calibrate::On::Back);
            }
            if stdio {
                sim_device::serve_stdio(config)
            } else if config.output == SimOutput::WitmotionBle {
                anyhow::bail!(
                    "--format witmotion-ble is what a Bluetooth sensor sends; use it with --stdio"
                )
            } else {
                let calibration = calibration.map(|flow| flow.kind(calibrate::On::Back).name());
                sim_device::serve_pty(config, &hx711.format(), link, &unplug, calibration)
            }
        }
    }
}
