//! Bluetooth Low Energy links through btleplug (BlueZ over D-Bus on Linux).
//!
//! - [`scan`] lists the devices nearby, for `proprio devices`.
//! - [`BleLink`] is a supervised connection to one device. btleplug runs on a thread of its own;
//!   notifications of the device's stream characteristic become [`LinkEvent::Bytes`] (the
//!   deframer downstream does not care how the stream was cut, so any MTU works), host bytes
//!   are written to its command characteristic, and a lost link (a disconnect event, or
//!   silence) is reported and brought back: reconnect with backoff, rediscover, re-subscribe.
//!   The caller re-sends its start commands on [`LinkEvent::Connected`].
//!
//! Every failure of the Bluetooth stack becomes one sentence: no system bus, no BlueZ, no
//! adapter, device not found, not the expected kind. D-Bus messages never reach the user whole.

use std::pin::Pin;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use btleplug::api::{
    Central as _, CentralEvent, CharPropFlags, Characteristic, Manager as _, Peripheral as _,
    ScanFilter, ValueNotification, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral};
use futures_util::{FutureExt as _, Stream, StreamExt as _};
use proprio_protocol::gatt;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::link::{LinkEvent, BACKOFF, GIVE_UP_AFTER, SILENCE_LIMIT};
use crate::devices::witmotion;

/// How long `--source ble:…` looks for the device before giving up.
const FIND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one connection attempt (connect, discover, subscribe) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write or a disconnection may take before the link counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest write: the payload of the default ATT MTU, which every device accepts. Longer host
/// frames are cut; the device deframes its RX stream like any other.
const WRITE_CHUNK: usize = gatt::MIN_ATT_PAYLOAD;
/// What to tell a user who has no working Bluetooth.
const ALTERNATIVES: &str = "use --source sim, or a serial device";

/// What a BLE device speaks, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BleProfile {
    /// proprio's wearable: frames of proprio's protocol on TX (notify) and RX (write).
    Proprio,
    /// A WitMotion WT901BLECL: 20-byte packets on `ffe4`, register commands on `ffe9`.
    Witmotion,
}

impl BleProfile {
    fn service(self) -> Uuid {
        Uuid::from_u128(match self {
            BleProfile::Proprio => gatt::PROPRIO_SERVICE_UUID,
            BleProfile::Witmotion => witmotion::BLE_SERVICE_UUID,
        })
    }

    fn stream_characteristic(self) -> Uuid {
        Uuid::from_u128(match self {
            BleProfile::Proprio => gatt::TX_CHARACTERISTIC_UUID,
            BleProfile::Witmotion => witmotion::BLE_NOTIFY_UUID,
        })
    }

    fn command_characteristic(self) -> Uuid {
        Uuid::from_u128(match self {
            BleProfile::Proprio => gatt::RX_CHARACTERISTIC_UUID,
            BleProfile::Witmotion => witmotion::BLE_WRITE_UUID,
        })
    }

    /// The device, in words.
    pub fn describe(self) -> &'static str {
        match self {
            BleProfile::Proprio => "proprio wearable",
            BleProfile::Witmotion => "WitMotion WT901BLE",
        }
    }

    /// The profile a device seems to speak, from what it advertises.
    fn recognise(name: Option<&str>, services: &[Uuid]) -> Option<BleProfile> {
        [BleProfile::Proprio, BleProfile::Witmotion]
            .into_iter()
            .find(|profile| services.contains(&profile.service()))
            .or_else(|| {
                let name = name?.to_ascii_lowercase();
                if name.starts_with("proprio") {
                    Some(BleProfile::Proprio)
                } else if name.starts_with("wt901") {
                    Some(BleProfile::Witmotion)
                } else {
                    None
                }
            })
    }
}

/// A device seen by [`scan`].
#[derive(Debug, Clone, PartialEq)]
pub struct SeenDevice {
    /// Advertised name, if any.
    pub name: Option<String>,
    /// Bluetooth address, `AA:BB:CC:DD:EE:FF`.
    pub address: String,
    /// Signal strength, dBm, when known.
    pub rssi_dbm: Option<i16>,
    /// What proprio takes it for, if anything.
    pub kind: Option<BleProfile>,
}

/// Scans for `duration` and lists what was seen, strongest signal first. The error is one
/// sentence (no adapter, no BlueZ, no system bus).
pub fn scan(duration: Duration) -> Result<Vec<SeenDevice>, String> {
    runtime()?.block_on(async {
        let adapter = first_adapter().await?;
        adapter
            .start_scan(ScanFilter::default())
            .await
            .map_err(|e| format!("cannot scan for Bluetooth devices: {}", short(&e)))?;
        tokio::time::sleep(duration).await;
        let peripherals = adapter
            .peripherals()
            .await
            .map_err(|e| format!("cannot list Bluetooth devices: {}", short(&e)))?;
        let _ = adapter.stop_scan().await;
        let mut seen = Vec::new();
        for peripheral in peripherals {
            let Ok(Some(props)) = peripheral.properties().await else {
                continue; // it went away while we looked
            };
            seen.push(SeenDevice {
                kind: BleProfile::recognise(props.local_name.as_deref(), &props.services),
                name: props.local_name,
                address: props.address.to_string(),
                rssi_dbm: props.rssi,
            });
        }
        seen.sort_by_key(|d| std::cmp::Reverse(d.rssi_dbm.unwrap_or(i16::MIN)));
        Ok(seen)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the Bluetooth runtime: {e}"))
}

/// The first Bluetooth adapter, or why there is none.
async fn first_adapter() -> Result<Adapter, String> {
    let manager = Manager::new().await.map_err(|e| {
        format!(
            "Bluetooth is unavailable: cannot reach the system D-Bus ({}); {ALTERNATIVES}",
            short(&e)
        )
    })?;
    let adapters = manager.adapters().await.map_err(|e| {
        let text = e.to_string();
        if text.contains("org.bluez") || text.contains("ServiceUnknown") {
            format!("Bluetooth is unavailable: BlueZ is not running; {ALTERNATIVES}")
        } else {
            format!("Bluetooth is unavailable: {}; {ALTERNATIVES}", short(&e))
        }
    })?;
    adapters
        .into_iter()
        .next()
        .ok_or_else(|| format!("no Bluetooth adapter found; {ALTERNATIVES}"))
}

/// The first line of an error, without D-Bus error names, kept short.
fn short(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    let line = text.lines().next().unwrap_or_default();
    // "org.freedesktop.DBus.Error.NoReply: Did not receive a reply" → the human half.
    let human = match line.split_once(": ") {
        Some((name, rest)) if name.starts_with("org.") => rest,
        _ => line,
    };
    let mut short: String = human.chars().take(120).collect();
    if short.is_empty() {
        short = "unknown error".into();
    }
    short
}

/// Why a connection attempt failed.
enum ConnectError {
    /// The device is not what the user asked for; retrying cannot help.
    WrongKind(String),
    /// Anything else (out of range, timed out, refused); worth retrying.
    Failed(String),
}

/// One connected device: its characteristics and notification stream.
struct Connection {
    stream: Characteristic,
    command: Characteristic,
    write_type: WriteType,
    notifications: Pin<Box<dyn Stream<Item = ValueNotification> + Send>>,
}

/// A supervised BLE connection (see the module docs).
pub struct BleLink {
    description: String,
    opened: Instant,
    events: mpsc::UnboundedReceiver<LinkEvent>,
    commands: Option<mpsc::UnboundedSender<Vec<u8>>>,
    finished: std_mpsc::Receiver<()>,
}

impl BleLink {
    /// Finds the device named or addressed `target`, connects and subscribes; returns once the
    /// first connection is up, or with one sentence saying why it is not.
    pub fn open(profile: BleProfile, target: &str) -> anyhow::Result<BleLink> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let (finished_tx, finished) = std_mpsc::channel();
        let opened = Instant::now();
        let supervisor = Supervisor {
            profile,
            target: target.to_string(),
            opened,
            events: events_tx,
            commands: commands_rx,
        };
        std::thread::Builder::new()
            .name(format!("ble {target}"))
            .spawn(move || {
                supervisor.run(ready_tx);
                let _ = finished_tx.send(());
            })
            .map_err(|e| anyhow::anyhow!("cannot start the Bluetooth thread: {e}"))?;
        let description = match ready_rx.recv() {
            Ok(Ok(description)) => description,
            Ok(Err(sentence)) => anyhow::bail!(sentence),
            Err(_) => anyhow::bail!("the Bluetooth thread stopped before connecting"),
        };
        Ok(BleLink {
            description,
            opened,
            events,
            commands: Some(commands_tx),
            finished,
        })
    }

    /// The next event. Cancel-safe.
    pub async fn next(&mut self) -> LinkEvent {
        match self.events.recv().await {
            Some(event) => event,
            None => LinkEvent::Lost {
                t_host_us: self.now_us(),
                reason: "the Bluetooth thread stopped".into(),
            },
        }
    }

    /// Queues bytes for the device; while disconnected they are dropped (the device could not
    /// hear them) and the caller sends its commands again on reconnection.
    pub fn write(&mut self, bytes: &[u8]) {
        if let Some(commands) = &self.commands {
            let _ = commands.send(bytes.to_vec());
        }
    }

    /// µs since the link opened.
    pub fn now_us(&self) -> u64 {
        self.opened.elapsed().as_micros() as u64
    }

    /// The device, for the live view.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

impl Drop for BleLink {
    /// Lets the thread send what is queued (the last `Stop`) and disconnect, briefly.
    fn drop(&mut self) {
        self.commands = None;
        let _ = self.finished.recv_timeout(Duration::from_secs(2));
    }
}

/// The Bluetooth thread's state.
struct Supervisor {
    profile: BleProfile,
    target: String,
    opened: Instant,
    events: mpsc::UnboundedSender<LinkEvent>,
    commands: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl Supervisor {
    fn now_us(&self) -> u64 {
        self.opened.elapsed().as_micros() as u64
    }

    fn run(mut self, ready: std_mpsc::Sender<Result<String, String>>) {
        let runtime = match runtime() {
            Ok(runtime) => runtime,
            Err(sentence) => {
                let _ = ready.send(Err(sentence));
                return;
            }
        };
        runtime.block_on(async {
            let (adapter, peripheral, connection, description) = match self.first_connect().await {
                Ok(up) => up,
                Err(sentence) => {
                    let _ = ready.send(Err(sentence));
                    return;
                }
            };
            let _ = ready.send(Ok(description));
            self.supervise(adapter, peripheral, connection).await;
        });
    }

    /// Adapter, device, first connection and a description of the device.
    async fn first_connect(&mut self) -> Result<(Adapter, Peripheral, Connection, String), String> {
        let adapter = first_adapter().await?;
        let peripheral = self.find(&adapter).await?;
        let connection = match timeout(self.connect(&peripheral)).await {
            Ok(connection) => connection,
            Err(ConnectError::WrongKind(sentence) | ConnectError::Failed(sentence)) => {
                return Err(sentence)
            }
        };
        let mut description = format!(
            "BLE {} {} ({})",
            self.profile.describe(),
            self.target,
            peripheral.address()
        );
        if self.profile == BleProfile::Proprio {
            // Nice to have: a device slow to answer is described without it.
            let information = read_device_information(&peripheral);
            if let Ok(text) = tokio::time::timeout(CALL_TIMEOUT, information).await {
                description.push_str(&text);
            }
        }
        Ok((adapter, peripheral, connection, description))
    }

    /// Scans until a device whose name or address is the target shows up.
    async fn find(&self, adapter: &Adapter) -> Result<Peripheral, String> {
        adapter
            .start_scan(ScanFilter::default())
            .await
            .map_err(|e| format!("cannot scan for Bluetooth devices: {}", short(&e)))?;
        let started = Instant::now();
        let found = loop {
            let peripherals = adapter
                .peripherals()
                .await
                .map_err(|e| format!("cannot list Bluetooth devices: {}", short(&e)))?;
            let mut found = None;
            for peripheral in peripherals {
                if let Ok(Some(props)) = peripheral.properties().await {
                    let by_name = props
                        .local_name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&self.target));
                    let by_address = props.address.to_string().eq_ignore_ascii_case(&self.target);
                    if by_name || by_address {
                        found = Some(peripheral);
                        break;
                    }
                }
            }
            if let Some(peripheral) = found {
                break peripheral;
            }
            if started.elapsed() >= FIND_TIMEOUT {
                let _ = adapter.stop_scan().await;
                return Err(format!(
                    "no Bluetooth device named or addressed '{}' found in {} s (is it on and \
                     near? `proprio devices` lists what is in range)",
                    self.target,
                    FIND_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let _ = adapter.stop_scan().await;
        Ok(found)
    }

    /// Connects, finds the profile's characteristics and subscribes to the stream.
    async fn connect(&self, peripheral: &Peripheral) -> Result<Connection, ConnectError> {
        let failed = |what: &str, e: btleplug::Error| {
            ConnectError::Failed(format!(
                "cannot {what} Bluetooth device '{}': {}",
                self.target,
                short(&e)
            ))
        };
        if !peripheral.is_connected().await.unwrap_or(false) {
            peripheral
                .connect()
                .await
                .map_err(|e| failed("connect to", e))?;
        }
        peripheral
            .discover_services()
            .await
            .map_err(|e| failed("read the services of", e))?;
        let characteristics = peripheral.characteristics();
        let find = |uuid: Uuid| characteristics.iter().find(|c| c.uuid == uuid).cloned();
        let (Some(stream), Some(command)) = (
            find(self.profile.stream_characteristic()),
            find(self.profile.command_characteristic()),
        ) else {
            let _ = peripheral.disconnect().await;
            return Err(ConnectError::WrongKind(format!(
                "Bluetooth device '{}' is not a {} (it lacks service {}); check the --source kind",
                self.target,
                self.profile.describe(),
                self.profile.service()
            )));
        };
        // Commands are rare and small: with a response when the device offers it.
        let write_type = if command.properties.contains(CharPropFlags::WRITE) {
            WriteType::WithResponse
        } else {
            WriteType::WithoutResponse
        };
        // The stream first, then subscribe, so that the first notification is not missed.
        let notifications = peripheral
            .notifications()
            .await
            .map_err(|e| failed("listen to", e))?;
        peripheral
            .subscribe(&stream)
            .await
            .map_err(|e| failed("subscribe to", e))?;
        Ok(Connection {
            stream,
            command,
            write_type,
            notifications,
        })
    }

    /// Streams until the session ends, bringing the link back each time it drops.
    async fn supervise(&mut self, adapter: Adapter, peripheral: Peripheral, first: Connection) {
        // Without adapter events the silence watchdog still notices a lost link.
        let mut adapter_events = adapter.events().await.ok();
        let mut connection = first;
        loop {
            let reason = match self
                .stream(&peripheral, &mut connection, adapter_events.as_mut())
                .await
            {
                Some(reason) => reason,
                None => {
                    // The session ended: leave the device as we found it.
                    let _ = peripheral.unsubscribe(&connection.stream).await;
                    let _ = peripheral.disconnect().await;
                    return;
                }
            };
            let event = LinkEvent::Disconnected {
                t_host_us: self.now_us(),
                reason,
            };
            if self.events.send(event).is_err() {
                return;
            }
            match self.reconnect(&peripheral).await {
                Some(new_connection) => connection = new_connection,
                None => return,
            }
            // Events from before the reconnection (our own disconnect after a silence, say)
            // are old news: they must not end the new connection.
            if let Some(events) = adapter_events.as_mut() {
                while let Some(Some(_)) = events.next().now_or_never() {}
            }
        }
    }

    /// Forwards notifications and writes commands until the link fails (returns why) or the
    /// session ends (returns `None`).
    async fn stream(
        &mut self,
        peripheral: &Peripheral,
        connection: &mut Connection,
        mut adapter_events: Option<&mut Pin<Box<dyn Stream<Item = CentralEvent> + Send>>>,
    ) -> Option<String> {
        let mut last_data = Instant::now();
        let mut watchdog = tokio::time::interval(Duration::from_millis(100));
        let stream_uuid = connection.stream.uuid;
        loop {
            let adapter_event = async {
                match adapter_events.as_mut() {
                    Some(events) => events.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                notification = connection.notifications.next() => match notification {
                    Some(n) if n.uuid == stream_uuid => {
                        last_data = Instant::now();
                        if !self.forward(n.value) {
                            return None;
                        }
                    }
                    Some(_) => {}
                    None => return Some("the notification stream ended".into()),
                },
                event = adapter_event => match event {
                    Some(CentralEvent::DeviceDisconnected(id)) if id == peripheral.id() => {
                        return self.keep_queued(connection, "the device disconnected".into());
                    }
                    Some(_) => {}
                    // BlueZ's events are gone; the silence watchdog still notices a loss.
                    None => adapter_events = None,
                },
                command = self.commands.recv() => match command {
                    Some(bytes) => {
                        for chunk in bytes.chunks(WRITE_CHUNK) {
                            let write = peripheral.write(&connection.command, chunk, connection.write_type);
                            let failure = match tokio::time::timeout(CALL_TIMEOUT, write).await {
                                Ok(Ok(())) => continue,
                                Ok(Err(e)) => format!("a write failed ({})", short(&e)),
                                Err(_) => format!("a write took over {} s", CALL_TIMEOUT.as_secs()),
                            };
                            return self.keep_queued(connection, failure);
                        }
                    }
                    None => return None,
                },
                _ = watchdog.tick() => {
                    if self.events.is_closed() {
                        return None;
                    }
                    if last_data.elapsed() >= SILENCE_LIMIT {
                        let _ = tokio::time::timeout(CALL_TIMEOUT, peripheral.disconnect()).await;
                        return Some(format!("no data for {} s", SILENCE_LIMIT.as_secs()));
                    }
                }
            }
        }
    }

    /// Forwards the notifications that arrived before the link failed (they are already queued:
    /// keep every one), then returns why it failed, or `None` when the session is over.
    fn keep_queued(&self, connection: &mut Connection, reason: String) -> Option<String> {
        let stream_uuid = connection.stream.uuid;
        while let Some(Some(n)) = connection.notifications.next().now_or_never() {
            if n.uuid == stream_uuid && !self.forward(n.value) {
                return None;
            }
        }
        Some(reason)
    }

    /// Sends received bytes on; false when the session is over.
    fn forward(&self, bytes: Vec<u8>) -> bool {
        let event = LinkEvent::Bytes {
            t_host_us: self.now_us(),
            bytes,
        };
        self.events.send(event).is_ok()
    }

    /// Tries to connect again with backoff; `None` when it gave up (after sending `Lost`) or
    /// the session ended.
    async fn reconnect(&mut self, peripheral: &Peripheral) -> Option<Connection> {
        let started = Instant::now();
        let mut attempt = 0;
        let mut last_error = String::new();
        while started.elapsed() < GIVE_UP_AFTER {
            tokio::time::sleep(BACKOFF[attempt.min(BACKOFF.len() - 1)]).await;
            attempt += 1;
            // Host commands meanwhile could not reach the device; the caller re-sends them.
            while self.commands.try_recv().is_ok() {}
            if self.events.is_closed() {
                return None;
            }
            match timeout(self.connect(peripheral)).await {
                Ok(connection) => {
                    let event = LinkEvent::Connected {
                        t_host_us: self.now_us(),
                    };
                    return self.events.send(event).is_ok().then_some(connection);
                }
                Err(ConnectError::WrongKind(sentence) | ConnectError::Failed(sentence)) => {
                    last_error = sentence;
                }
            }
        }
        let _ = self.events.send(LinkEvent::Lost {
            t_host_us: self.now_us(),
            reason: format!(
                "gave up after {} s of reconnecting: {last_error}",
                GIVE_UP_AFTER.as_secs()
            ),
        });
        None
    }
}

/// Bounds a connection attempt.
async fn timeout(
    attempt: impl std::future::Future<Output = Result<Connection, ConnectError>>,
) -> Result<Connection, ConnectError> {
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::Failed(format!(
                "the Bluetooth connection did not come up within {} s",
                CONNECT_TIMEOUT.as_secs()
            )))
        })
}

/// Battery level and firmware from the standard services, as ", battery 87 %, firmware 1.2.3";
/// empty when the device does not offer them.
async fn read_device_information(peripheral: &Peripheral) -> String {
    let characteristics = peripheral.characteristics();
    let read = |uuid16: u16| {
        let characteristic = characteristics
            .iter()
            .find(|c| c.uuid == Uuid::from_u128(gatt::sig_uuid(uuid16)))
            .cloned();
        async move {
            match characteristic {
                Some(c) => peripheral.read(&c).await.ok(),
                None => None,
            }
        }
    };
    let mut text = String::new();
    if let Some(&[percent]) = read(gatt::BATTERY_LEVEL_UUID16).await.as_deref() {
        text.push_str(&format!(", battery {percent} %"));
    }
    if let Some(firmware) = read(gatt::FIRMWARE_REVISION_UUID16).await {
        let firmware = String::from_utf8_lossy(&firmware);
        text.push_str(&format!(", firmware {}", firmware.trim()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_devices_by_service_then_name() {
        let proprio = Uuid::from_u128(gatt::PROPRIO_SERVICE_UUID);
        let wit = Uuid::from_u128(witmotion::BLE_SERVICE_UUID);
        assert_eq!(
            BleProfile::recognise(None, &[proprio]),
            Some(BleProfile::Proprio)
        );
        assert_eq!(
            BleProfile::recognise(Some("board"), &[wit]),
            Some(BleProfile::Witmotion)
        );
        assert_eq!(
            BleProfile::recognise(Some("WT901BLE68"), &[]),
            Some(BleProfile::Witmotion)
        );
        assert_eq!(BleProfile::recognise(Some("Headphones"), &[]), None);
    }

    #[test]
    fn errors_are_shortened_to_their_human_part() {
        let dbus = "org.freedesktop.DBus.Error.NoReply: Did not receive a reply\nmore";
        assert_eq!(short(&dbus), "Did not receive a reply");
        assert_eq!(short(&"plain"), "plain");
        assert_eq!(short(&""), "unknown error");
        assert_eq!(short(&"x".repeat(500)).len(), 120);
    }
}
