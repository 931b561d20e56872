//! `proprio sim-device --serial`: the simulator as a device on a pseudo-terminal.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serialport::{SerialPort, TTYPort};

use crate::devices::Hx711Format;
use crate::sim::{SimConfig, SimDevice, SimOutput, Stall, VirtualDevice};

/// A simulated board that streams from power-on has its person step on this long after it
/// starts, s.
pub const FREE_RUNNING_STEP_ON_S: f64 = 5.0;

/// How often the device loop runs.
const TICK: Duration = Duration::from_millis(2);

/// A pseudo-terminal pair; our end of the slave stays open so the host may close and reopen
/// the port.
struct Pty {
    master: TTYPort,
    _slave: TTYPort,
    path: String,
}

fn open_pty(link: Option<&Path>) -> Result<Pty> {
    let (mut master, slave) = TTYPort::pair().context("cannot create a pseudo-terminal")?;
    let path = slave.name().context("the pseudo-terminal has no path")?;
    master
        .set_timeout(TICK)
        .context("cannot configure the pseudo-terminal")?;
    if let Some(link) = link {
        // Replace the link atomically: a host reconnecting never sees it missing.
        let tmp = link.with_extension("new");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&path, &tmp)
            .and_then(|()| std::fs::rename(&tmp, link))
            .with_context(|| format!("cannot create the link {}", link.display()))?;
    }
    Ok(Pty {
        master,
        _slave: slave,
        path,
    })
}

/// Creates a pseudo-terminal, prints its path (or `link`, a symbolic link to it) and serves the
/// virtual device on it in real time until killed. During each of `unplugs` the device is
/// unplugged: the pseudo-terminal goes away (the host sees the port fail) and a new one takes
/// its place afterwards, behind the same `link`. A simulated HX711 text board prints its lines
/// laid out as `hx711` says; it streams from power-on, so its person steps on
/// [`FREE_RUNNING_STEP_ON_S`] after it starts, leaving the host time to connect and tare.
pub fn serve_pty(
    mut config: SimConfig,
    hx711: &Hx711Format,
    link: Option<PathBuf>,
    unplugs: &[Stall],
    calibration: Option<&str>,
) -> Result<ExitCode> {
    let first = open_pty(link.as_deref())?;
    let shown = link
        .as_ref()
        .map_or_else(|| first.path.clone(), |l| l.display().to_string());
    let mut pty = Some(first);
    out!("{shown}");
    io::stdout().flush().context("cannot print the port path")?;
    let connect = match (config.device, config.output) {
        (SimDevice::CalibrationBoard, SimOutput::Hx711Text) => format!(
            "proprio calibrate board --source hx711-text:{shown} --mass-kg {} (with the same \
             --hx711-* flags)",
            config.balance_board.calibration_mass_kg
        ),
        (SimDevice::CalibrationBoard, _) => format!(
            "proprio calibrate board --source serial:{shown} --mass-kg {}",
            config.balance_board.calibration_mass_kg
        ),
        _ if calibration.is_some() => format!(
            "proprio calibrate {} --source serial:{shown}",
            calibration.unwrap_or_default()
        ),
        (SimDevice::BalanceBoard, SimOutput::Hx711Text) => {
            format!("proprio drill quiet-stance --source hx711-text:{shown} (with the same --hx711-* flags)")
        }
        (SimDevice::BalanceBoard, _) => {
            format!("proprio drill quiet-stance --source serial:{shown}")
        }
        (_, SimOutput::WitmotionSerial) => {
            format!("proprio drill rocker-hold --source witmotion-serial:{shown}")
        }
        _ => format!("proprio drill rocker-hold --source serial:{shown}"),
    };
    eprintln!(
        "simulated device on {shown} (seed {}); connect with: {connect}; Ctrl-C to stop",
        config.seed
    );
    if config.output == SimOutput::Hx711Text {
        let step_on_s = &mut config.balance_board.step_on_s;
        *step_on_s = step_on_s.max(FREE_RUNNING_STEP_ON_S);
    }
    let mut device = VirtualDevice::new(config);
    device.set_hx711_format(hx711.clone());
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let mut out = Vec::new();
    loop {
        let t_s = started.elapsed().as_secs_f64();
        let unplugged = unplugs
            .iter()
            .any(|u| t_s >= u.at_s && t_s < u.at_s + u.duration_s);
        match (&mut pty, unplugged) {
            (Some(_), true) => {
                pty = None; // closing the master hangs up the host's end
                eprintln!("unplugged at {t_s:.1} s");
            }
            (None, false) => {
                pty = Some(open_pty(link.as_deref())?);
                eprintln!("plugged back in at {t_s:.1} s");
            }
            _ => {}
        }
        match pty.as_mut() {
            Some(p) => match p.master.read(&mut buf) {
                Ok(n) => device.receive(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e).context("the pseudo-terminal failed"),
            },
            None => std::thread::sleep(TICK),
        }
        // The world goes on while unplugged; what the device sends then is lost.
        device.advance_to(started.elapsed().as_micros() as u64, &mut out, None);
        if let Some(p) = pty.as_mut() {
            if !out.is_empty() {
                // A host that is not reading fills the buffer: like a real device, drop what
                // does not fit.
                match p.master.write_all(&out) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                    Err(e) => return Err(e).context("cannot write to the pseudo-terminal"),
                }
            }
        }
        out.clear();
    }
}

/// Serves the virtual device in real time on standard input (host bytes) and output (device
/// bytes) until either closes: the device behind a fake Bluetooth stack in the tests.
pub fn serve_stdio(config: SimConfig) -> Result<ExitCode> {
    let (host_tx, host_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = [0u8; 1024];
            // Ends at end of input: dropping the sender tells the loop below.
            while let Ok(n @ 1..) = stdin.read(&mut buf) {
                if host_tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        })
        .context("cannot start the input thread")?;
    let mut device = VirtualDevice::new(config);
    let mut stdout = io::stdout().lock();
    let started = Instant::now();
    let mut out = Vec::new();
    loop {
        loop {
            match host_rx.try_recv() {
                Ok(bytes) => device.receive(&bytes),
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return Ok(ExitCode::SUCCESS),
            }
        }
        device.advance_to(started.elapsed().as_micros() as u64, &mut out, None);
        if !out.is_empty() {
            match stdout.write_all(&out).and_then(|()| stdout.flush()) {
                Ok(()) => {}
                // The reader went away: the session is over.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
                Err(e) => return Err(e).context("cannot write to standard output"),
            }
            out.clear();
        }
        std::thread::sleep(TICK);
    }
}
