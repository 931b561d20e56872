//! Command-line options for balance boards: the board's geometry and the layout of a DIY
//! HX711 board's text lines.

use clap::{Args, ValueEnum};

use crate::devices::{Hx711Column, Hx711Format, LoadUnit};
use crate::pipeline::BoardGeometry;

/// How a DIY four-HX711 board prints its lines (for `--source hx711-text:…`; for
/// `sim-device --format hx711-text`, what the simulated board prints).
#[derive(Debug, Clone, Args)]
pub struct Hx711Args {
    /// HX711 text: the columns of a line in order: TL, TR, BR, BL (each once; FL/FR also work),
    /// ms for the board's millis() clock, _ for a column to ignore; e.g. ms,TR,TL,BR,BL.
    #[arg(long, default_value = "TL,TR,BR,BL", value_name = "COLUMNS", value_parser = parse_columns)]
    pub hx711_columns: Hx711Columns,
    /// HX711 text: the field delimiter: a character such as ';', or comma, semicolon, tab,
    /// space, or any (any of , ; tab space).
    #[arg(long, default_value = "any", value_name = "DELIMITER", value_parser = parse_delimiter)]
    pub hx711_delimiter: Hx711Delimiter,
    /// HX711 text: the unit of the load numbers: raw counts, or kilograms (calibrated by the
    /// sketch).
    #[arg(long, value_enum, default_value = "counts", value_name = "UNIT")]
    pub hx711_unit: Hx711Unit,
    /// HX711 text: the board's nominal sample rate, Hz (HX711s run at 10 or 80).
    #[arg(long, default_value_t = 80.0, value_name = "HZ", value_parser = parse_rate_hz)]
    pub hx711_rate: f32,
}

impl Default for Hx711Args {
    /// The defaults of the flags: `TL,TR,BR,BL`, any delimiter, counts, 80 Hz.
    fn default() -> Self {
        let format = Hx711Format::default();
        Hx711Args {
            hx711_columns: Hx711Columns(format.columns),
            hx711_delimiter: Hx711Delimiter(format.delimiter),
            hx711_unit: Hx711Unit::Counts,
            hx711_rate: format.rate_hz,
        }
    }
}

impl Hx711Args {
    /// The line layout these flags describe.
    pub fn format(&self) -> Hx711Format {
        Hx711Format {
            columns: self.hx711_columns.0.clone(),
            delimiter: self.hx711_delimiter.0,
            unit: match self.hx711_unit {
                Hx711Unit::Counts => LoadUnit::Counts,
                Hx711Unit::Kg => LoadUnit::Kilograms,
            },
            rate_hz: self.hx711_rate,
        }
    }
}

/// A parsed `--hx711-columns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hx711Columns(pub Vec<Hx711Column>);

/// A parsed `--hx711-delimiter` (`None`: any of `,` `;` tab space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hx711Delimiter(pub Option<char>);

/// The unit of an HX711 board's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Hx711Unit {
    /// Raw HX711 counts.
    Counts,
    /// Kilograms.
    Kg,
}

fn parse_columns(text: &str) -> Result<Hx711Columns, String> {
    Hx711Format::parse_columns(text).map(Hx711Columns)
}

fn parse_delimiter(text: &str) -> Result<Hx711Delimiter, String> {
    let named = match text.to_ascii_lowercase().as_str() {
        "any" => Some(None),
        "comma" => Some(Some(',')),
        "semicolon" => Some(Some(';')),
        "tab" | "\\t" => Some(Some('\t')),
        "space" => Some(Some(' ')),
        _ => None,
    };
    if let Some(delimiter) = named {
        return Ok(Hx711Delimiter(delimiter));
    }
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None)
            if !c.is_alphanumeric() && !matches!(c, '.' | '-' | '+' | '\n' | '\r') =>
        {
            Ok(Hx711Delimiter(Some(c)))
        }
        _ => Err(format!(
            "'{text}' is not a delimiter (one character that is not a letter, digit, '.', '-' or '+'; or comma, semicolon, tab, space, any)"
        )),
    }
}

fn parse_rate_hz(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(x) if (1.0..=1000.0).contains(&x) => Ok(x),
        _ => Err(format!("'{text}' is not a sample rate in Hz (1 to 1000)")),
    }
}

/// Parses `--board-geometry`.
pub fn parse_board_geometry(text: &str) -> Result<BoardGeometry, String> {
    BoardGeometry::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters() {
        assert_eq!(parse_delimiter("any"), Ok(Hx711Delimiter(None)));
        assert_eq!(parse_delimiter(";"), Ok(Hx711Delimiter(Some(';'))));
        assert_eq!(parse_delimiter("TAB"), Ok(Hx711Delimiter(Some('\t'))));
        assert_eq!(parse_delimiter("|"), Ok(Hx711Delimiter(Some('|'))));
        for bad in ["", "5", "x", ".", "-", ";;"] {
            let err = parse_delimiter(bad).unwrap_err();
            assert!(
                err.starts_with('\'') && !err.contains('\n'),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn the_default_flags_are_the_default_format() {
        assert_eq!(Hx711Args::default().format(), Hx711Format::default());
    }
}
