//! `proprio sim-device --serial`: the simulator as a device on a pseudo-terminal.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serialport::{SerialPort, TTYPort};

use crate::sim::{SimConfig, Stall, VirtualDevice};

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
/// its place afterwards, behind the same `link`.
pub fn serve_pty(config: SimConfig, link: Option<PathBuf>, unplugs: &[Stall]) -> Result<ExitCode> {
    let first = open_pty(link.as_deref())?;
    let shown = link
        .as_ref()
        .map_or_else(|| first.path.clone(), |l| l.display().to_string());
    let mut pty = Some(first);
    println!("{shown}");
    io::stdout().flush().context("cannot print the port path")?;
    eprintln!(
        "simulated device on {shown} (seed {}); connect with: proprio drill rocker-hold --source serial:{shown}; Ctrl-C to stop",
        config.seed
    );
    let mut device = VirtualDevice::new(config);
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
