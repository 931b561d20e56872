//! The configuration file: defaults for flags, in TOML.
//!
//! Found at `--config FILE`, else `PROPRIO_CONFIG`, else the platform's config directory
//! (`~/.config/proprio/config.toml` on Linux); a missing file at the platform's place is no
//! configuration. Its values become the flags' defaults, so the precedence is: flag,
//! environment variable, configuration file, built-in default. Every key is in the README.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde::Deserialize;
use toml::Spanned;

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "PROPRIO_CONFIG";

/// The keys of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Whose sessions (`--user`).
    user: Option<Spanned<String>>,
    /// Where recordings and the history are kept (`--data-dir`).
    data_dir: Option<Spanned<PathBuf>>,
    /// Where a drill's data comes from (`drill --source`).
    source: Option<Spanned<String>>,
    /// The cues to give (`drill --cues`), e.g. `["visual", "sound"]`.
    cues: Option<Spanned<Vec<String>>>,
    /// The balance board's load-cell distances (`drill --board-geometry`), e.g. "433x238".
    board_geometry: Option<Spanned<String>>,
    /// The rocker or wobble board's edge limit, degrees (`drill --board-limit`).
    board_limit_deg: Option<Spanned<f64>>,
}

/// The configuration file named on the command line or in the environment (`given`: it must
/// exist), else the platform's (it may not).
fn locate(args: &[OsString]) -> Option<(PathBuf, bool)> {
    let mut flag = None;
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            break;
        }
        if text == "--config" {
            flag = rest.next().map(PathBuf::from);
        } else if let Some(path) = text.strip_prefix("--config=") {
            flag = Some(PathBuf::from(path));
        }
    }
    if let Some(path) = flag {
        return Some((path, true));
    }
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(path), true));
    }
    dirs::config_dir().map(|d| (d.join("proprio").join("config.toml"), false))
}

/// The line (from 1) of a byte offset in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// Reads the configuration file for `args` (the process's arguments) and makes its values the
/// defaults of `command`'s flags. A file that cannot be read, is not TOML, has an unknown key
/// or a bad value is one sentence naming the file and the line.
pub fn apply(command: clap::Command, args: &[OsString]) -> Result<clap::Command> {
    let Some((path, given)) = locate(args) else {
        return Ok(command);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !given => return Ok(command),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the configuration file {}", path.display()))
        }
    };
    let config: Config = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(&text, s.start));
        anyhow::anyhow!(
            "{}, line {line}: {}",
            path.display(),
            e.message().trim_end_matches('\n')
        )
    })?;
    check(&config, &path, &text)?;
    Ok(defaults(command, config))
}

/// Checks each value as its flag would, naming the file, the line and the key.
fn check(config: &Config, path: &Path, text: &str) -> Result<()> {
    let fail = |span: std::ops::Range<usize>, key: &str, why: String| -> Result<()> {
        bail!(
            "{}, line {}: {key}: {why}",
            path.display(),
            line_of(text, span.start)
        )
    };
    if let Some(user) = &config.user {
        if let Err(why) = super::parse_user(user.get_ref()) {
            fail(user.span(), "user", why)?;
        }
    }
    if let Some(source) = &config.source {
        if let Err(why) = super::link::Source::parse(source.get_ref()) {
            fail(source.span(), "source", format!("{why:#}"))?;
        }
    }
    if let Some(cues) = &config.cues {
        for cue in cues.get_ref() {
            if super::CueName::from_str(cue, false).is_err() {
                let why = format!("'{cue}' is not a cue (visual, sound, haptic or none)");
                fail(cues.span(), "cues", why)?;
            }
        }
    }
    if let Some(geometry) = &config.board_geometry {
        if let Err(why) = super::board_args::parse_board_geometry(geometry.get_ref()) {
            fail(geometry.span(), "board_geometry", why)?;
        }
    }
    if let Some(limit) = &config.board_limit_deg {
        if let Err(why) = super::parse_limit_deg(&limit.get_ref().to_string()) {
            fail(limit.span(), "board_limit_deg", why)?;
        }
    }
    Ok(())
}

/// A value for clap's defaults, which live as long as the program (read once at start).
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// The configuration's values as the flags' defaults.
fn defaults(mut command: clap::Command, config: Config) -> clap::Command {
    if let Some(user) = config.user {
        let user = leak(user.into_inner());
        command = command.mut_arg("user", |a| a.default_value(user));
    }
    if let Some(dir) = config.data_dir {
        let dir = leak(dir.into_inner().to_string_lossy().into_owned());
        command = command.mut_arg("data_dir", |a| a.default_value(dir));
    }
    let drill = [
        ("source", config.source.map(Spanned::into_inner)),
        ("cues", config.cues.map(|c| c.into_inner().join(","))),
        (
            "board_geometry",
            config.board_geometry.map(Spanned::into_inner),
        ),
        (
            "board_limit",
            config.board_limit_deg.map(|l| l.into_inner().to_string()),
        ),
    ];
    for (arg, value) in drill {
        if let Some(value) = value {
            let value: &'static str = leak(value);
            // The guided session runs drills; a calibration reads the same device (and a
            // board's gains hold for its geometry).
            for sub in ["drill", "session", "calibrate"] {
                if sub == "calibrate" && !matches!(arg, "source" | "board_geometry") {
                    continue;
                }
                command =
                    command.mut_subcommand(sub, |s| s.mut_arg(arg, |a| a.default_value(value)));
            }
        }
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        let text = "a = 1\nb = 2\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 6), 2);
    }

    #[test]
    fn the_flag_names_the_file_before_the_environment() {
        let args: Vec<OsString> = ["proprio", "--config", "/x.toml", "plan"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(locate(&args), Some((PathBuf::from("/x.toml"), true)));
        let args: Vec<OsString> = ["proprio", "plan", "--config=/y.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(locate(&args), Some((PathBuf::from("/y.toml"), true)));
    }
}
