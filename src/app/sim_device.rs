//! `proprio sim-device --serial`: the simulator as a device on a pseudo-terminal.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serialport::{SerialPort, TTYPort};

use crate::sim::{SimConfig, VirtualDevice};

/// How often the device loop runs.
const TICK: Duration = Duration::from_millis(2);

/// Creates a pseudo-terminal, prints its path and serves the virtual device on it in real time
/// until killed.
pub fn serve_pty(config: SimConfig) -> Result<ExitCode> {
    let (mut master, slave) = TTYPort::pair().context("cannot create a pseudo-terminal")?;
    let path = slave.name().context("the pseudo-terminal has no path")?;
    master
        .set_timeout(TICK)
        .context("cannot configure the pseudo-terminal")?;
    println!("{path}");
    io::stdout().flush().context("cannot print the port path")?;
    eprintln!(
        "simulated device on {path} (seed {}); connect with: proprio drill rocker-hold --source serial:{path}; Ctrl-C to stop",
        config.seed
    );
    // Keeping our end of the slave open means the host may close and reopen the port.
    let _slave = slave;
    let mut device = VirtualDevice::new(config);
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let mut out = Vec::new();
    loop {
        match master.read(&mut buf) {
            Ok(n) => device.receive(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e).context("the pseudo-terminal failed"),
        }
        device.advance_to(started.elapsed().as_micros() as u64, &mut out, None);
        if !out.is_empty() {
            // A host that is not reading fills the buffer: like a real device, drop what does
            // not fit.
            match master.write_all(&out) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e).context("cannot write to the pseudo-terminal"),
            }
            out.clear();
        }
    }
}
