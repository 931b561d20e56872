//! `proprio devices`: the serial ports plugged in and the Bluetooth devices in range.

use std::process::ExitCode;
use std::time::Duration;

use super::ble::{self, BleProfile};

/// Prints the serial ports, then the Bluetooth devices seen in `scan_for`. No Bluetooth is not
/// an error here: it is one sentence, and the serial ports are still listed.
pub fn list_devices(scan_for: Duration) -> anyhow::Result<ExitCode> {
    out!("Serial ports:");
    match serialport::available_ports() {
        Ok(ports) if ports.is_empty() => out!("  none found"),
        Ok(ports) => {
            for port in ports {
                out!("  {}{}", port.port_name, describe_port(&port.port_type));
            }
        }
        Err(e) => out!("  cannot list serial ports: {}", e.description),
    }
    out!();
    out!("Bluetooth devices ({} s scan):", scan_for.as_secs_f64());
    match ble::scan(scan_for) {
        Ok(devices) if devices.is_empty() => out!("  none in range"),
        Ok(devices) => {
            for device in devices {
                let rssi = device
                    .rssi_dbm
                    .map_or_else(|| "    ? dBm".to_string(), |r| format!("{r:>5} dBm"));
                let (kind, source) = match device.kind {
                    Some(BleProfile::Proprio) => (BleProfile::Proprio.describe(), "ble:"),
                    Some(BleProfile::Witmotion) => {
                        (BleProfile::Witmotion.describe(), "witmotion-ble:")
                    }
                    None => ("not a device proprio reads", ""),
                };
                let name = device.name.as_deref().unwrap_or("(no name)");
                let hint = if source.is_empty() {
                    String::new()
                } else {
                    format!("  --source {source}{}", device.address)
                };
                out!("  {} {rssi}  {name:<20} {kind}{hint}", device.address);
            }
        }
        Err(sentence) => out!("  {sentence}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn describe_port(kind: &serialport::SerialPortType) -> String {
    match kind {
        serialport::SerialPortType::UsbPort(usb) => {
            let product = usb.product.as_deref().unwrap_or("USB serial");
            format!("  {product} (USB {:04x}:{:04x})", usb.vid, usb.pid)
        }
        serialport::SerialPortType::BluetoothPort => "  Bluetooth serial".into(),
        serialport::SerialPortType::PciPort | serialport::SerialPortType::Unknown => String::new(),
    }
}
