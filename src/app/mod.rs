//! The application edge: the command line, links, files and the terminal. Everything here is
//! thin; the work is done by the sans-IO core.
//!
//! # Brief overview
//! - [`Cli`]: the commands and their flags (clap).
//! - `link`: byte sources, the simulator (paced or as fast as possible) and serial ports.
//! - `store`: the data directory and recording files (readable by the user only).
//! - `run`: a live drill: link → recording → session → live view → result.
//! - `sim_device`: the simulator as a device on a pseudo-terminal.

mod link;
mod output;
mod run;
mod sim_device;
mod store;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Run a drill.
    Drill(DrillArgs),
    /// Re-run a recording through decoding, the pipeline and the drill; prints the same result
    /// as the live run. Exits with 3 if the recording was cut off (the result covers what it held).
    Replay {
        /// The recording file (`.prec`).
        file: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run the simulator as a device on a pseudo-terminal, speaking proprio's protocol, so that
    /// `proprio drill … --source serial:PATH` can connect to it. Prints the port's path.
    SimDevice {
        /// Offer the device on a pseudo-terminal (the only transport so far).
        #[arg(long, required = true)]
        serial: bool,
        /// Also make PATH a symbolic link to the port, kept pointing at it across unplugs.
        #[arg(long, value_name = "PATH")]
        link: Option<PathBuf>,
        /// Unplug the device AT seconds after start for DUR seconds (repeatable).
        #[arg(long, value_name = "AT:DUR", value_parser = parse_stall)]
        unplug: Vec<Stall>,
        /// What the device speaks: proprio's protocol, or a WitMotion WT901C's frames (connect
        /// with --source witmotion-serial:PATH).
        #[arg(long, value_enum, default_value = "proprio")]
        format: SimFormat,
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
}

/// The drills that can be run, by command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DrillName {
    /// Rocker-board hold: keep a one-axis board level.
    RockerHold,
}

impl From<DrillName> for DrillKind {
    fn from(name: DrillName) -> Self {
        match name {
            DrillName::RockerHold => DrillKind::RockerHold,
        }
    }
}

#[derive(Debug, Args)]
struct DrillArgs {
    /// Which drill (see `proprio drills`).
    #[arg(value_enum)]
    drill: DrillName,
    /// Where the data comes from: `sim` (simulated device) or `serial:PATH[@BAUD]` (a device
    /// speaking proprio's protocol; default 115200 baud).
    #[arg(long, default_value = "sim", value_name = "SOURCE")]
    source: String,
    /// Level, 1 (easiest) to 5; sets the target band and duration.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    level: u8,
    /// Override the level's duration, in seconds.
    #[arg(long, value_name = "S", value_parser = parse_duration_s)]
    duration: Option<f64>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// Don't show the live view; with `--source sim`, run as fast as the computer can.
    #[arg(long)]
    no_live: bool,
    /// Don't buzz the wearable when the board leaves the band.
    #[arg(long)]
    no_haptics: bool,
    /// The board's edge limit (tilt at which its edge touches the floor), degrees.
    #[arg(long, default_value_t = 15.0, value_name = "DEG", value_parser = parse_limit_deg)]
    board_limit: f64,
    #[command(flatten)]
    sim: SimArgs,
}

/// Options of the simulated person and device.
#[derive(Debug, Args)]
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

/// Runs the command line; returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
            };
            let args = DrillArgs {
                drill: DrillName::RockerHold,
                source: "sim".into(),
                level: 1,
                duration: None,
                json: false,
                no_live,
                no_haptics: false,
                board_limit: 15.0,
                sim,
            };
            run::drill(data_dir, &args)
        }
        Command::Drills => {
            output::print_drills();
            Ok(ExitCode::SUCCESS)
        }
        Command::Drill(args) => run::drill(data_dir, &args),
        Command::Replay { file, json } => run::replay(&file, json),
        Command::SimDevice {
            serial: _,
            link,
            unplug,
            format,
            sim,
        } => {
            let mut config = sim.config(15.0);
            config.output = match format {
                SimFormat::Proprio => SimOutput::Proprio,
                SimFormat::WitmotionSerial => SimOutput::WitmotionSerial,
            };
            sim_device::serve_pty(config, link, &unplug)
        }
    }
}
