//! Byte sources. A link yields [`LinkEvent`]s and takes host messages; it does nothing else.
//! Every link but the simulator's reports its losses and brings itself back by the same rules:
//! [`SILENCE_LIMIT`], [`BACKOFF`], [`GIVE_UP_AFTER`].

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use proprio_protocol::{encode_frame, HostMessage, MAX_FRAME_LEN};
use tokio::sync::mpsc;

use super::ble::{BleLink, BleProfile};
use crate::devices::{DeviceFormat, Hx711Format};
use crate::sim::{Delivery, SimConfig, SimTransport};

/// What a link reports.
#[derive(Debug)]
pub enum LinkEvent {
    /// Bytes arrived.
    Bytes {
        /// Host receive time, µs since the link opened.
        t_host_us: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The link is up again after a disconnection.
    Connected {
        /// Host time, µs since the link opened.
        t_host_us: u64,
    },
    /// The link went down (device unplugged, silent); the link is trying to get it back.
    Disconnected {
        /// Host time, µs since the link opened.
        t_host_us: u64,
        /// Why, in words.
        reason: String,
    },
    /// The link is gone for good: reconnecting failed for [`GIVE_UP_AFTER`].
    Lost {
        /// Host time, µs since the link opened.
        t_host_us: u64,
        /// Why, in words.
        reason: String,
    },
}

/// A link that cannot be brought back within this time is lost for good.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);
/// No bytes for this long on an open link means the device is gone (or hung).
pub const SILENCE_LIMIT: Duration = Duration::from_secs(2);
/// Waits between reconnection attempts.
pub const BACKOFF: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// Where the data comes from, parsed from `--source`.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The simulator, in process.
    Sim,
    /// A serial port.
    Serial {
        /// What the device speaks.
        kind: SerialKind,
        /// Device path.
        path: String,
        /// Baud rate.
        baud: u32,
    },
    /// A Bluetooth Low Energy device.
    Ble {
        /// What it speaks.
        profile: BleProfile,
        /// Its advertised name or its address.
        target: String,
    },
}

/// What a serial device speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialKind {
    /// proprio's protocol (`serial:`).
    Proprio,
    /// WitMotion WT901C / JY901 frames (`witmotion-serial:`).
    Witmotion,
    /// HX711 text lines (`hx711-text:`).
    Hx711Text,
}

impl SerialKind {
    const ALL: [(SerialKind, &'static str, u32); 3] = [
        (SerialKind::Proprio, "serial:", 115_200),
        (SerialKind::Witmotion, "witmotion-serial:", 9_600),
        (SerialKind::Hx711Text, "hx711-text:", 57_600),
    ];
}

impl Source {
    /// Parses `sim`, `serial:PATH[@BAUD]`, `witmotion-serial:PATH[@BAUD]`,
    /// `hx711-text:PATH[@BAUD]`, `ble:NAME_OR_ADDRESS` or `witmotion-ble:NAME_OR_ADDRESS`.
    pub fn parse(text: &str) -> anyhow::Result<Source> {
        if text == "sim" {
            return Ok(Source::Sim);
        }
        for (profile, prefix) in [
            (BleProfile::Proprio, "ble:"),
            (BleProfile::Witmotion, "witmotion-ble:"),
        ] {
            if let Some(target) = text.strip_prefix(prefix) {
                if target.is_empty() {
                    bail!("source '{prefix}' needs a device name or address, e.g. {prefix}proprio-1a2b (see `proprio devices`)");
                }
                return Ok(Source::Ble {
                    profile,
                    target: target.to_string(),
                });
            }
        }
        for (kind, prefix, default_baud) in SerialKind::ALL {
            let Some(rest) = text.strip_prefix(prefix) else {
                continue;
            };
            let (path, baud) = match rest.rsplit_once('@') {
                Some((path, baud)) => {
                    let baud = baud
                        .parse::<u32>()
                        .ok()
                        .filter(|b| (300..=4_000_000).contains(b))
                        .with_context(|| format!("'{baud}' is not a baud rate"))?;
                    (path, baud)
                }
                None => (rest, default_baud),
            };
            if path.is_empty() {
                bail!("source '{prefix}' needs a port, e.g. {prefix}/dev/ttyUSB0");
            }
            return Ok(Source::Serial {
                kind,
                path: path.to_string(),
                baud,
            });
        }
        bail!(
            "unknown source '{text}': use 'sim', 'serial:PATH[@BAUD]', \
             'witmotion-serial:PATH[@BAUD]', 'hx711-text:PATH[@BAUD]', 'ble:NAME_OR_ADDRESS' \
             or 'witmotion-ble:NAME_OR_ADDRESS'"
        )
    }

    /// The byte format this source speaks.
    pub fn format(&self, rate_hz: u16, hx711: &Hx711Format) -> DeviceFormat {
        match self {
            Source::Sim
            | Source::Serial {
                kind: SerialKind::Proprio,
                ..
            }
            | Source::Ble {
                profile: BleProfile::Proprio,
                ..
            } => DeviceFormat::Proprio,
            Source::Ble {
                profile: BleProfile::Witmotion,
                ..
            } => DeviceFormat::WitmotionBle {
                rate_hz: f32::from(rate_hz),
            },
            Source::Serial {
                kind: SerialKind::Witmotion,
                ..
            } => DeviceFormat::WitmotionSerial {
                rate_hz: f32::from(rate_hz),
            },
            Source::Serial {
                kind: SerialKind::Hx711Text,
                ..
            } => DeviceFormat::Hx711Text(hx711.clone()),
        }
    }
}

/// An open link.
pub enum Link {
    /// The simulator (boxed: it carries the whole virtual world).
    Sim(Box<SimLink>),
    /// A serial port.
    Serial(SerialLink),
    /// A Bluetooth Low Energy device.
    Ble(BleLink),
}

impl Link {
    /// Opens the link for `source`; `sim` is used for the simulator, `paced` makes it run in
    /// real time.
    pub fn open(source: &Source, sim: SimConfig, paced: bool) -> anyhow::Result<Link> {
        Ok(match source {
            Source::Sim => Link::Sim(Box::new(SimLink::new(sim, paced))),
            Source::Serial { path, baud, .. } => Link::Serial(SerialLink::open(path, *baud)?),
            Source::Ble { profile, target } => Link::Ble(BleLink::open(*profile, target)?),
        })
    }

    /// The next event. Cancel-safe.
    pub async fn next(&mut self) -> LinkEvent {
        match self {
            Link::Sim(link) => link.next().await,
            Link::Serial(link) => link.next().await,
            Link::Ble(link) => link.next().await,
        }
    }

    /// Sends a command; returns the bytes sent and when, for the recording.
    pub fn send(&mut self, message: &HostMessage) -> anyhow::Result<(u64, Vec<u8>)> {
        let mut frame = [0u8; MAX_FRAME_LEN];
        let n = encode_frame(message, &mut frame)
            .map_err(|e| anyhow::anyhow!("cannot encode {message:?}: {e}"))?;
        self.send_bytes(&frame[..n])
    }

    /// Sends bytes as they are (a device's own command format); returns them and when, for
    /// the recording.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> anyhow::Result<(u64, Vec<u8>)> {
        match self {
            Link::Sim(link) => link.transport.send(bytes),
            Link::Serial(link) => link.write(bytes)?,
            Link::Ble(link) => link.write(bytes),
        }
        Ok((self.now_us(), bytes.to_vec()))
    }

    /// The link's host clock, µs since it opened.
    pub fn now_us(&self) -> u64 {
        match self {
            Link::Sim(link) => link.transport.now_us(),
            Link::Serial(link) => link.opened.elapsed().as_micros() as u64,
            Link::Ble(link) => link.now_us(),
        }
    }

    /// A short description for the live view.
    pub fn describe(&self) -> String {
        match self {
            Link::Sim(_) => "simulator".into(),
            Link::Serial(link) => format!("serial {}", link.path),
            Link::Ble(link) => link.describe().to_string(),
        }
    }
}

/// Simulated time without any bytes after which the simulated link reports itself lost, µs.
const SIM_SILENCE_LIMIT_US: u64 = 60_000_000;

/// The simulator behind a simulated link. Its host clock is simulated, so the recording is
/// the same whether it runs paced or as fast as possible.
pub struct SimLink {
    transport: SimTransport,
    queue: VecDeque<Delivery>,
    paced_from: Option<tokio::time::Instant>,
}

impl SimLink {
    fn new(config: SimConfig, paced: bool) -> Self {
        SimLink {
            transport: SimTransport::new(config),
            queue: VecDeque::new(),
            paced_from: paced.then(tokio::time::Instant::now),
        }
    }

    async fn next(&mut self) -> LinkEvent {
        let silent_since_us = self.transport.now_us();
        while self.queue.is_empty() {
            if self.transport.now_us() - silent_since_us > SIM_SILENCE_LIMIT_US {
                return LinkEvent::Lost {
                    t_host_us: self.transport.now_us(),
                    reason: "the simulated device sent nothing for a minute".into(),
                };
            }
            self.queue.extend(self.transport.next_deliveries(None));
        }
        // Sleep before taking the delivery off the queue: a cancelled call loses nothing.
        if let (Some(start), Some(front)) = (self.paced_from, self.queue.front()) {
            tokio::time::sleep_until(start + Duration::from_micros(front.t_host_us)).await;
        }
        match self.queue.pop_front() {
            Some(delivery) => LinkEvent::Bytes {
                t_host_us: delivery.t_host_us,
                bytes: delivery.bytes,
            },
            None => LinkEvent::Lost {
                t_host_us: self.transport.now_us(),
                reason: "the simulated device stopped".into(),
            },
        }
    }
}

/// The port as both threads see it: `None` while disconnected.
type SharedPort = Arc<Mutex<Option<Box<dyn serialport::SerialPort>>>>;

/// A serial port, read on its own thread, which also brings the port back after an unplug.
pub struct SerialLink {
    path: String,
    opened: Instant,
    writer: SharedPort,
    events: mpsc::UnboundedReceiver<LinkEvent>,
}

impl SerialLink {
    fn open(path: &str, baud: u32) -> anyhow::Result<SerialLink> {
        let port =
            open_port(path, baud).map_err(|e| anyhow::anyhow!(describe_open_error(path, &e)))?;
        let writer: SharedPort = Arc::new(Mutex::new(Some(
            port.try_clone()
                .with_context(|| format!("cannot use serial port {path}"))?,
        )));
        let opened = Instant::now();
        let (tx, events) = mpsc::unbounded_channel();
        let supervisor = Supervisor {
            path: path.to_string(),
            baud,
            opened,
            writer: Arc::clone(&writer),
            tx,
        };
        std::thread::Builder::new()
            .name(format!("serial {path}"))
            .spawn(move || supervisor.run(port))
            .context("cannot start the serial reader thread")?;
        Ok(SerialLink {
            path: path.to_string(),
            opened,
            writer,
            events,
        })
    }

    async fn next(&mut self) -> LinkEvent {
        match self.events.recv().await {
            Some(event) => event,
            None => LinkEvent::Lost {
                t_host_us: self.opened.elapsed().as_micros() as u64,
                reason: "the serial reader stopped".into(),
            },
        }
    }

    /// Writes to the port; while it is disconnected the bytes are dropped (the device could
    /// not hear them) and the commands are sent again on reconnection.
    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let mut guard = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(port) = guard.as_mut() {
            if port.write_all(bytes).is_err() {
                *guard = None; // the reader notices too and reconnects
            }
        }
        Ok(())
    }
}

/// Opens the port and drops whatever the device sent before it was opened: stale bytes are not
/// part of this session.
fn open_port(path: &str, baud: u32) -> serialport::Result<Box<dyn serialport::SerialPort>> {
    let port = serialport::new(path, baud)
        .timeout(Duration::from_millis(50))
        .open()?;
    port.clear(serialport::ClearBuffer::Input)?;
    Ok(port)
}

fn describe_open_error(path: &str, error: &serialport::Error) -> String {
    use serialport::ErrorKind;
    match error.kind() {
        ErrorKind::Io(io::ErrorKind::NotFound) => {
            format!(
                "serial port {path} does not exist (is the device plugged in? try --source sim)"
            )
        }
        ErrorKind::Io(io::ErrorKind::PermissionDenied) => {
            format!("no permission to open serial port {path} (on Linux, join the 'dialout' group)")
        }
        ErrorKind::NoDevice => {
            format!("serial port {path} is busy or gone (another program may have it open)")
        }
        _ if error.description.contains("Not a typewriter") => {
            format!("{path} is not a serial port")
        }
        _ if error.description.contains("busy") || error.description.contains("lock") => {
            format!("serial port {path} is busy (another program has it open)")
        }
        _ => format!("cannot open serial port {path}: {}", error.description),
    }
}

/// The reader thread: reads, watches for silence and errors, and reconnects with backoff.
struct Supervisor {
    path: String,
    baud: u32,
    opened: Instant,
    writer: SharedPort,
    tx: mpsc::UnboundedSender<LinkEvent>,
}

impl Supervisor {
    fn now_us(&self) -> u64 {
        self.opened.elapsed().as_micros() as u64
    }

    fn run(self, mut port: Box<dyn serialport::SerialPort>) {
        loop {
            let reason = self.read_until_failure(&mut port);
            *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = None;
            drop(port);
            let event = LinkEvent::Disconnected {
                t_host_us: self.now_us(),
                reason,
            };
            if self.tx.send(event).is_err() {
                return; // the session is over
            }
            match self.reconnect() {
                Some(new_port) => port = new_port,
                None => return,
            }
        }
    }

    /// Reads until the port fails or goes silent; returns why.
    fn read_until_failure(&self, port: &mut Box<dyn serialport::SerialPort>) -> String {
        let mut buf = [0u8; 4096];
        let mut last_data = Instant::now();
        loop {
            match port.read(&mut buf) {
                Ok(0) => return "the port was closed".into(),
                Ok(n) => {
                    last_data = Instant::now();
                    let event = LinkEvent::Bytes {
                        t_host_us: self.now_us(),
                        bytes: buf[..n].to_vec(),
                    };
                    if self.tx.send(event).is_err() {
                        return "the session ended".into();
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                    ) =>
                {
                    if last_data.elapsed() >= SILENCE_LIMIT {
                        return format!("no data for {} s", SILENCE_LIMIT.as_secs());
                    }
                    if self.tx.is_closed() {
                        return "the session ended".into();
                    }
                }
                Err(e) => return format!("the device went away ({e})"),
            }
        }
    }

    /// Tries to reopen the port with backoff; `None` when it gave up (after sending `Lost`) or
    /// the session ended.
    fn reconnect(&self) -> Option<Box<dyn serialport::SerialPort>> {
        let started = Instant::now();
        let mut attempt = 0;
        let mut last_error = String::new();
        while started.elapsed() < GIVE_UP_AFTER {
            if self.tx.is_closed() {
                return None;
            }
            std::thread::sleep(BACKOFF[attempt.min(BACKOFF.len() - 1)]);
            attempt += 1;
            match open_port(&self.path, self.baud).and_then(|p| p.try_clone().map(|w| (p, w))) {
                Ok((port, writer)) => {
                    *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(writer);
                    let _ = self.tx.send(LinkEvent::Connected {
                        t_host_us: self.now_us(),
                    });
                    return Some(port);
                }
                Err(e) => last_error = describe_open_error(&self.path, &e),
            }
        }
        let _ = self.tx.send(LinkEvent::Lost {
            t_host_us: self.now_us(),
            reason: format!(
                "gave up after {} s of reconnecting: {last_error}",
                GIVE_UP_AFTER.as_secs()
            ),
        });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(Source::parse("sim").unwrap(), Source::Sim);
        let serial = |kind, path: &str, baud| Source::Serial {
            kind,
            path: path.into(),
            baud,
        };
        assert_eq!(
            Source::parse("serial:/dev/ttyACM0").unwrap(),
            serial(SerialKind::Proprio, "/dev/ttyACM0", 115_200)
        );
        assert_eq!(
            Source::parse("serial:/dev/ttyUSB1@9600").unwrap(),
            serial(SerialKind::Proprio, "/dev/ttyUSB1", 9600)
        );
        assert_eq!(
            Source::parse("witmotion-serial:/dev/ttyUSB0").unwrap(),
            serial(SerialKind::Witmotion, "/dev/ttyUSB0", 9600)
        );
        assert_eq!(
            Source::parse("hx711-text:/dev/ttyACM1@115200").unwrap(),
            serial(SerialKind::Hx711Text, "/dev/ttyACM1", 115_200)
        );
        assert_eq!(
            Source::parse("ble:proprio-1a2b").unwrap(),
            Source::Ble {
                profile: BleProfile::Proprio,
                target: "proprio-1a2b".into()
            }
        );
        assert_eq!(
            Source::parse("witmotion-ble:D1:2C:3B:4A:59:68").unwrap(),
            Source::Ble {
                profile: BleProfile::Witmotion,
                target: "D1:2C:3B:4A:59:68".into()
            }
        );
        for bad in [
            "",
            "simulator",
            "serial:",
            "serial:/dev/x@fast",
            "ble:",
            "bluetooth:board",
        ] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }
}
