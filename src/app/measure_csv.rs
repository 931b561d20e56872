//! Another tool's CSV for `proprio measure`: a header line naming the columns, then one sample
//! per line. Columns are found by their names (case, spaces and a unit in brackets do not
//! matter: `Time (s)`, `t_s`, `acc_x`, `Accelerometer X (g)`, `ml_cm`), or named by flags; units
//! come from flags. Every problem is one sentence naming the file, and the line where it is one.

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Args;
use nalgebra::Vector3;

use crate::pipeline::ImuSi;
use crate::G_M_S2;

/// The CSV flags of `proprio measure`.
#[derive(Debug, Args, Default, Clone)]
pub struct CsvArgs {
    /// CSV: the time column's name [default: found by name: time, t, timestamp…].
    #[arg(long, value_name = "NAME")]
    pub(super) time_column: Option<String>,
    /// CSV: the file has no time column; its rows are samples at HZ.
    #[arg(long, visible_alias = "rate-hz", value_name = "HZ", value_parser = parse_rate_hz, conflicts_with = "time_column")]
    pub(super) rate: Option<f64>,
    /// CSV: the unit of the time column: s, ms or us [default: the unit in the column's name,
    /// e.g. `Time (s)`, `t_ms`, else s]. A column of clock times (`10:20:30.125`, with or
    /// without a date before it) is read as such.
    #[arg(long, value_name = "UNIT", value_parser = parse_time_unit)]
    pub(super) time_unit: Option<f64>,
    /// CSV: the COP's medio-lateral column [default: found by name: ml, cop_x, copx, x…].
    #[arg(long, value_name = "NAME")]
    pub(super) ml_column: Option<String>,
    /// CSV: the COP's antero-posterior column [default: found by name: ap, cop_y, copy, y…].
    #[arg(long, value_name = "NAME")]
    pub(super) ap_column: Option<String>,
    /// CSV: the unit of the COP columns: mm or cm [default: the unit in the columns' names,
    /// e.g. `ml_cm`, else mm].
    #[arg(long, value_name = "UNIT", value_parser = parse_cop_unit)]
    pub(super) cop_unit: Option<f64>,
    /// CSV: the accelerometer's columns, X,Y,Z [default: found by name: acc_x, ax,
    /// accelerometer x…].
    #[arg(long, value_name = "X,Y,Z")]
    pub(super) acc_columns: Option<String>,
    /// CSV: the unit of the accelerometer columns: m/s2 or g [default: the unit in the
    /// columns' names, e.g. `ax(g)`, `acc_x_m_s2`, else m/s2].
    #[arg(long, value_name = "UNIT", value_parser = parse_acc_unit)]
    pub(super) acc_unit: Option<f64>,
    /// CSV: the gyroscope's columns, X,Y,Z [default: found by name: gyr_x, gx, gyroscope x…;
    /// without a gyroscope the orientation comes from the accelerometer alone].
    #[arg(long, value_name = "X,Y,Z")]
    pub(super) gyro_columns: Option<String>,
    /// CSV: the unit of the gyroscope columns: deg/s or rad/s [default: the unit in the
    /// columns' names, e.g. `wx(deg/s)`, `gyr_x_rad_s`, else deg/s].
    #[arg(long, value_name = "UNIT", value_parser = parse_gyro_unit)]
    pub(super) gyro_unit: Option<f64>,
    /// CSV: the magnetometer's columns, X,Y,Z [default: found by name: mag_x, magnetometer x,
    /// hx…; none: no magnetometer]. Read by `proprio import` (measuring does not use it).
    #[arg(long, value_name = "X,Y,Z")]
    pub(super) mag_columns: Option<String>,
    /// CSV: the unit of the magnetometer columns: uT or gauss [default: the unit in the
    /// columns' names, else uT].
    #[arg(long, value_name = "UNIT", value_parser = parse_mag_unit)]
    pub(super) mag_unit: Option<f64>,
    /// Leave the magnetometer out unless `mag_columns` names it (a format whose magnetometer
    /// unit is unknown).
    #[arg(skip)]
    pub(super) no_mag: bool,
}

fn parse_rate_hz(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 100_000.0 => Ok(x),
        _ => Err(format!("'{s}' is not a sample rate in Hz")),
    }
}

/// Seconds per unit.
fn parse_time_unit(s: &str) -> Result<f64, String> {
    match s {
        "s" => Ok(1.0),
        "ms" => Ok(1e-3),
        "us" | "µs" => Ok(1e-6),
        _ => Err(format!("'{s}' is not a time unit (s, ms or us)")),
    }
}

/// Millimetres per unit.
fn parse_cop_unit(s: &str) -> Result<f64, String> {
    match s {
        "mm" => Ok(1.0),
        "cm" => Ok(10.0),
        _ => Err(format!("'{s}' is not a COP unit (mm or cm)")),
    }
}

/// m/s² per unit.
fn parse_acc_unit(s: &str) -> Result<f64, String> {
    match s {
        "m/s2" | "m/s^2" | "m/s²" => Ok(1.0),
        "g" => Ok(G_M_S2),
        _ => Err(format!("'{s}' is not an acceleration unit (m/s2 or g)")),
    }
}

/// rad/s per unit.
fn parse_gyro_unit(s: &str) -> Result<f64, String> {
    match s {
        "deg/s" | "°/s" => Ok(1f64.to_radians()),
        "rad/s" => Ok(1.0),
        _ => Err(format!(
            "'{s}' is not an angular-rate unit (deg/s or rad/s)"
        )),
    }
}

/// µT per unit.
fn parse_mag_unit(s: &str) -> Result<f64, String> {
    match s {
        "uT" | "ut" | "µT" => Ok(1.0),
        "gauss" | "G" => Ok(100.0),
        _ => Err(format!("'{s}' is not a magnetic-field unit (uT or gauss)")),
    }
}

/// The unit a column's name carries, in brackets (`Gyroscope X (deg/s)`, `ax(g)`) or as its
/// last words (`acc_x_m_s2`, `t_ms`), as the factor to proprio's unit of that quantity; `None`
/// when the name carries none that `parse` knows.
fn unit_in_name(name: &str, parse: fn(&str) -> Result<f64, String>) -> Option<f64> {
    let name = name.trim().trim_matches('"');
    if let (Some(open), Some(close)) = (name.find(['(', '[']), name.rfind([')', ']'])) {
        if open < close {
            return parse(name[open + 1..close].trim()).ok();
        }
    }
    // `acc_x_m_s2`: try the last one, two and three words as a unit.
    let words: Vec<&str> = name.split('_').collect();
    (1..=3.min(words.len().saturating_sub(1)))
        .rev()
        .find_map(|k| {
            let tail = words[words.len() - k..].join("_");
            let unit = match tail.as_str() {
                "m_s2" => "m/s2",
                "rad_s" => "rad/s",
                "deg_s" => "deg/s",
                "ut" => "uT",
                other => other,
            };
            parse(unit).ok()
        })
}

/// The unit `given` by a flag, else the one the columns' names carry (all the same), else
/// `default`.
fn unit_of(
    csv: &Csv,
    given: Option<f64>,
    columns: &[usize],
    parse: fn(&str) -> Result<f64, String>,
    default: f64,
) -> f64 {
    given.unwrap_or_else(|| {
        columns
            .first()
            .and_then(|&i| unit_in_name(&csv.header[i], parse))
            .unwrap_or(default)
    })
}

/// What a CSV held, in proprio's units.
pub enum Table {
    /// A centre of pressure.
    Cop {
        /// Time, s.
        t_s: Vec<f64>,
        /// Medio-lateral, mm.
        ml_mm: Vec<f64>,
        /// Antero-posterior, mm.
        ap_mm: Vec<f64>,
    },
    /// A lumbar IMU.
    Imu {
        /// Time, s.
        t_s: Vec<f64>,
        /// The samples (gyroscope zero when the file has none).
        samples: Vec<ImuSi>,
        /// True when the file has gyroscope columns.
        has_gyro: bool,
    },
}

/// Names a column may go by (after [`normalise`]); a name may also carry a unit after `_`.
const TIME_NAMES: &[&str] = &["time", "t", "timestamp", "seconds"];
const ML_NAMES: &[&str] = &["ml", "cop_ml", "cop_x", "copx", "x"];
const AP_NAMES: &[&str] = &["ap", "cop_ap", "cop_y", "copy", "y"];
const ACC_NAMES: &[&str] = &["acc_", "accel_", "accelerometer_", "a", "acc"];
const GYRO_NAMES: &[&str] = &["gyr_", "gyro_", "gyroscope_", "g", "gyr", "gyro", "w"];
const MAG_NAMES: &[&str] = &["mag_", "magnetometer_", "mag", "h", "m"];

/// A header cell for matching: lower case, without a unit in brackets, words joined by `_`.
fn normalise(name: &str) -> String {
    let name = name.trim().trim_matches('"').to_lowercase();
    let cut = name.find(['(', '[']).unwrap_or(name.len());
    let words: Vec<&str> = name[..cut]
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-' || c == '.')
        .filter(|w| !w.is_empty())
        .collect();
    words.join("_")
}

/// The parsed header and rows.
struct Csv<'a> {
    path: &'a Path,
    header: Vec<String>,
    /// (line number, cells).
    rows: Vec<(usize, Vec<&'a str>)>,
}

impl Csv<'_> {
    /// The column named `given` (exactly, or normalised), or the first whose name is one of
    /// `names` (or one of them then `_` and a unit).
    fn find(&self, given: Option<&str>, names: &[String]) -> Option<usize> {
        let normal: Vec<String> = self.header.iter().map(|h| normalise(h)).collect();
        if let Some(given) = given {
            let want = normalise(given);
            return self
                .header
                .iter()
                .position(|h| h.trim() == given.trim())
                .or_else(|| normal.iter().position(|h| *h == want));
        }
        names.iter().find_map(|name| {
            normal.iter().position(|h| {
                h == name
                    || h.strip_prefix(name.as_str())
                        .is_some_and(|r| r.starts_with('_'))
            })
        })
    }

    /// Like [`Csv::find`], failing with a sentence naming `what` and `flag`.
    fn require(
        &self,
        given: Option<&str>,
        names: &[String],
        what: &str,
        flag: &str,
    ) -> Result<usize> {
        self.find(given, names).with_context(|| match given {
            Some(given) => format!(
                "{} has no column '{given}' (its columns: {})",
                self.path.display(),
                self.header.join(", ")
            ),
            None => format!(
                "{} has no {what} column (its columns: {}); name it with {flag}",
                self.path.display(),
                self.header.join(", ")
            ),
        })
    }

    /// Column `index` of every row as numbers, times `scale`.
    fn column(&self, index: usize, scale: f64) -> Result<Vec<f64>> {
        self.rows
            .iter()
            .map(|(line, cells)| {
                let cell = cells[index].trim().trim_matches('"');
                match cell.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x * scale),
                    _ => bail!(
                        "{} line {line}: '{cell}' in column '{}' is not a number",
                        self.path.display(),
                        self.header[index].trim()
                    ),
                }
            })
            .collect()
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Three columns for an IMU's x, y, z: as `given` ("X,Y,Z"), or by `stems` + axis.
fn three(
    csv: &Csv,
    given: Option<&str>,
    stems: &[&str],
    what: &str,
    flag: &str,
) -> Result<Option<[usize; 3]>> {
    if let Some(given) = given {
        let names: Vec<&str> = given.split(',').collect();
        let [x, y, z] = names[..] else {
            bail!("{flag} takes three column names separated by commas, not '{given}'");
        };
        let mut found = [0; 3];
        for (slot, name) in found.iter_mut().zip([x, y, z]) {
            *slot = csv.require(Some(name), &[], what, flag)?;
        }
        return Ok(Some(found));
    }
    let mut found = [0; 3];
    for (slot, axis) in found.iter_mut().zip(["x", "y", "z"]) {
        let names: Vec<String> = stems.iter().map(|s| format!("{s}{axis}")).collect();
        match csv.find(None, &names) {
            Some(i) => *slot = i,
            None => return Ok(None),
        }
    }
    Ok(Some(found))
}

/// Reads `path` as a COP (`want_imu` false, or None and it has ML and AP columns) or an IMU.
pub fn read(path: &Path, args: &CsvArgs, want_imu: Option<bool>) -> Result<Table> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        anyhow::anyhow!(
            "{} is neither a proprio recording nor a text (CSV) file",
            path.display()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header_line)) = lines.next() else {
        bail!("{} is empty", path.display());
    };
    let delimiter = [',', ';', '\t']
        .into_iter()
        .max_by_key(|d| header_line.matches(*d).count())
        .unwrap_or(',');
    let header: Vec<String> = header_line.split(delimiter).map(str::to_string).collect();
    if header
        .iter()
        .all(|h| h.trim().trim_matches('"').parse::<f64>().is_ok())
    {
        bail!(
            "{} has no header line: its first line must name the columns (e.g. time,ml,ap)",
            path.display()
        );
    }
    let mut rows = Vec::new();
    for (line, text) in lines {
        let cells: Vec<&str> = text.split(delimiter).collect();
        if cells.len() < header.len() {
            bail!(
                "{} line {line} has {} fields; the header has {}",
                path.display(),
                cells.len(),
                header.len()
            );
        }
        rows.push((line, cells));
    }
    let csv = Csv { path, header, rows };

    let ml = csv.find(args.ml_column.as_deref(), &owned(ML_NAMES));
    let ap = csv.find(args.ap_column.as_deref(), &owned(AP_NAMES));
    let is_cop = match want_imu {
        Some(imu) => !imu,
        None => {
            (ml.is_some() && ap.is_some()) || args.ml_column.is_some() || args.ap_column.is_some()
        }
    };
    let t_s = times(&csv, args)?;
    if is_cop {
        let ml = csv.require(
            args.ml_column.as_deref(),
            &owned(ML_NAMES),
            "medio-lateral (ML)",
            "--ml-column",
        )?;
        let ap = csv.require(
            args.ap_column.as_deref(),
            &owned(AP_NAMES),
            "antero-posterior (AP)",
            "--ap-column",
        )?;
        let cop_unit = unit_of(&csv, args.cop_unit, &[ml], parse_cop_unit, 1.0);
        return Ok(Table::Cop {
            t_s,
            ml_mm: csv.column(ml, cop_unit)?,
            ap_mm: csv.column(ap, cop_unit)?,
        });
    }
    let acc = three(
        &csv,
        args.acc_columns.as_deref(),
        ACC_NAMES,
        "accelerometer",
        "--acc-columns",
    )?
    .with_context(|| {
        let cop_too = if want_imu == Some(true) {
            ""
        } else {
            " nor COP ML and AP columns"
        };
        format!(
            "{} has no accelerometer x, y, z columns{cop_too} (its columns: {}); name them with \
             --acc-columns",
            path.display(),
            csv.header.join(", ")
        )
    })?;
    let gyro = three(
        &csv,
        args.gyro_columns.as_deref(),
        GYRO_NAMES,
        "gyroscope",
        "--gyro-columns",
    )?;
    let mag = if args.no_mag && args.mag_columns.is_none() {
        None
    } else {
        three(
            &csv,
            args.mag_columns.as_deref(),
            MAG_NAMES,
            "magnetometer",
            "--mag-columns",
        )?
    };
    // Columns found by name but left empty (an export of a device without one) are none.
    let mag = mag.filter(|c| {
        args.mag_columns.is_some()
            || csv
                .rows
                .iter()
                .any(|(_, cells)| !cells[c[0]].trim().is_empty())
    });
    let acc_unit = unit_of(&csv, args.acc_unit, &acc, parse_acc_unit, 1.0);
    let acc: Vec<Vec<f64>> = acc
        .iter()
        .map(|&i| csv.column(i, acc_unit))
        .collect::<Result<_>>()?;
    let columns = |found: Option<[usize; 3]>, unit: Option<f64>, parse, default| {
        found
            .map(|c| {
                let unit = unit_of(&csv, unit, &c, parse, default);
                c.iter()
                    .map(|&i| csv.column(i, unit))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()
    };
    let gyro = columns(gyro, args.gyro_unit, parse_gyro_unit, 1f64.to_radians())?;
    let mag = columns(mag, args.mag_unit, parse_mag_unit, 1.0)?;
    let xyz = |v: &[Vec<f64>], k: usize| Vector3::new(v[0][k], v[1][k], v[2][k]);
    let samples = (0..t_s.len())
        .map(|k| ImuSi {
            acc_m_s2: xyz(&acc, k),
            gyr_rad_s: gyro.as_ref().map_or(Vector3::zeros(), |g| xyz(g, k)),
            mag_ut: mag.as_ref().map(|m| xyz(m, k)),
        })
        .collect();
    Ok(Table::Imu {
        t_s,
        samples,
        has_gyro: gyro.is_some(),
    })
}

/// A column of clock times (`10:20:30.125`, or `2024-01-05 10:20:30.125`), s since midnight of
/// the first row's day (a time that goes back by more than 12 h has passed midnight); `None`
/// when the first cell is not a clock time.
fn clock_times(csv: &Csv, index: usize) -> Option<Vec<f64>> {
    let parse = |cell: &str| -> Option<f64> {
        let cell = cell.trim().trim_matches('"');
        let time = cell.rsplit([' ', 'T']).next()?;
        let mut parts = time.split(':');
        let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !h.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (h, m, s) = (
            h.parse::<f64>().ok()?,
            m.parse::<f64>().ok()?,
            s.replace(',', ".").parse::<f64>().ok()?,
        );
        (h < 24.0 && m < 60.0 && (0.0..61.0).contains(&s)).then_some(h * 3600.0 + m * 60.0 + s)
    };
    let first = csv.rows.first()?;
    parse(first.1[index])?;
    let mut day_s = 0.0;
    let mut last = f64::NEG_INFINITY;
    csv.rows
        .iter()
        .map(|(_, cells)| {
            let mut t = parse(cells[index])? + day_s;
            if t < last - 43_200.0 {
                day_s += 86_400.0;
                t += 86_400.0;
            }
            last = t;
            Some(t)
        })
        .collect()
}

/// The time of every row, s: from the time column (increasing), or the rows at `--rate`.
fn times(csv: &Csv, args: &CsvArgs) -> Result<Vec<f64>> {
    if let Some(rate_hz) = args.rate {
        return Ok((0..csv.rows.len()).map(|k| k as f64 / rate_hz).collect());
    }
    let index = csv
        .find(args.time_column.as_deref(), &owned(TIME_NAMES))
        .with_context(|| match &args.time_column {
            Some(given) => format!(
                "{} has no column '{given}' (its columns: {})",
                csv.path.display(),
                csv.header.join(", ")
            ),
            None => format!(
                "{} has no time column (its columns: {}); name it with --time-column, or give \
                 the sample rate with --rate",
                csv.path.display(),
                csv.header.join(", ")
            ),
        })?;
    let unit = unit_of(csv, args.time_unit, &[index], parse_time_unit, 1.0);
    let t_s = match clock_times(csv, index) {
        Some(t_s) => t_s,
        None => csv.column(index, unit)?,
    };
    for (k, pair) in t_s.windows(2).enumerate() {
        if pair[1] <= pair[0] {
            bail!(
                "{} line {}: the time does not increase ({} after {})",
                csv.path.display(),
                csv.rows[k + 1].0,
                csv.rows[k + 1].1[index].trim(),
                csv.rows[k].1[index].trim()
            );
        }
    }
    Ok(t_s)
}
