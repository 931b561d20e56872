#!/usr/bin/python3
"""Self-test of tests/fake_bluez.py without Rust: a Python client doing what bluez-async 0.9
(under btleplug 0.13) does, against the fake on a private dbus-daemon.

    /usr/bin/python3 tests/fake_bluez_selftest.py

Starts its own dbus-daemon(s) and fakes, and kills them (by pid) when done. Exits 0 when
every check passes; prints the first failure otherwise.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_bluez.py")
PY = "/usr/bin/python3"

ADAPTER = "/org/bluez/hci0"
ADDRESS = "AA:BB:CC:DD:EE:FF"
DEV = ADAPTER + "/dev_AA_BB_CC_DD_EE_FF"
PROPRIO_SERVICE = "7b5e0001-3c1d-4d8e-9f6a-70726f70726f"
TX = "7b5e0002-3c1d-4d8e-9f6a-70726f70726f"
RX = "7b5e0003-3c1d-4d8e-9f6a-70726f70726f"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
MANUFACTURER = "00002a29-0000-1000-8000-00805f9b34fb"
FIRMWARE = "00002a26-0000-1000-8000-00805f9b34fb"
WIT_SERVICE = "0000ffe5-0000-1000-8000-00805f9a34fb"
WIT_NOTIFY = "0000ffe4-0000-1000-8000-00805f9a34fb"
WIT_WRITE = "0000ffe9-0000-1000-8000-00805f9a34fb"

PROPS = "org.freedesktop.DBus.Properties"
DEVICE1 = "org.bluez.Device1"
CHRC1 = "org.bluez.GattCharacteristic1"

# A device whose stdout is a stream of frames 0xA5, content (1..160, from a counter), 0x00
# of varying lengths, and which appends everything it reads on stdin to argv[1].
DEVICE_SCRIPT = r"""
import os, sys, threading, time
out, pidfile = sys.argv[1], sys.argv[2]
with open(pidfile, "w") as f:
    f.write(str(os.getpid()))
def reader():
    with open(out, "ab", buffering=0) as f:
        while True:
            d = os.read(0, 4096)
            if not d:
                return
            f.write(d)
threading.Thread(target=reader, daemon=True).start()
n = 0
while True:
    k = 1 + (n * 7) % 37
    os.write(1, bytes([0xA5]) + bytes(1 + (n + i) % 160 for i in range(k)) + b"\x00")
    n += 1
    time.sleep(0.004)
"""

started_pids = []   # dbus-daemons we started
fakes = []          # fake processes we started


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print("  ok: " + what)


def start_bus():
    out = subprocess.run(["/usr/bin/dbus-daemon", "--session", "--fork",
                          "--print-address=1", "--print-pid=1"],
                         check=True, capture_output=True, text=True).stdout.split()
    address, pid = out[0], int(out[1])
    started_pids.append(pid)
    return address, pid


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def start_fake(address, args, command):
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
    proc = subprocess.Popen([PY, FAKE] + args + ["--"] + command, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fakes.append(proc)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise Failure("fake did not print ready: %r %r" % (line, proc.stderr.read()))
    return proc


class Client:
    """Records every signal from org.bluez; offers bluez-async-like helpers."""

    def __init__(self, address):
        self.bus = dbus.bus.BusConnection(address)
        self.events = []  # (time, member, path, args)
        self.bus.add_signal_receiver(self._on_signal, bus_name="org.bluez",
                                     member_keyword="member", path_keyword="path")

    def _on_signal(self, *args, member=None, path=None):
        self.events.append((time.monotonic(), str(member), str(path), args))

    def pump(self, seconds=0.0):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + seconds
        while True:
            while ctx.iteration(False):
                pass
            if time.monotonic() >= end:
                return
            time.sleep(0.002)

    def wait(self, pred, timeout, what):
        end = time.monotonic() + timeout
        ctx = GLib.MainContext.default()
        while True:
            while ctx.iteration(False):
                pass
            result = pred()
            if result:
                return result
            if time.monotonic() > end:
                raise Failure("timed out waiting for " + what)
            time.sleep(0.002)

    def obj(self, path):
        return self.bus.get_object("org.bluez", path, introspect=False)

    def call(self, path, iface, method, *args, **kw):
        return getattr(self.obj(path), method)(*args, dbus_interface=iface, timeout=30, **kw)

    def get(self, path, iface, name):
        return self.call(path, PROPS, "Get", iface, name)

    def get_all(self, path, iface):
        return self.call(path, PROPS, "GetAll", iface)

    def introspect(self, path):
        return self.call(path, "org.freedesktop.DBus.Introspectable", "Introspect")

    def error_of(self, func, *args, **kw):
        try:
            func(*args, **kw)
        except dbus.DBusException as exc:
            return exc.get_dbus_name(), exc.get_dbus_message()
        return None

    def prop_changes(self, path, iface, name, since=0.0):
        out = []
        for t, member, p, args in self.events:
            if t >= since and member == "PropertiesChanged" and p == path and args[0] == iface \
                    and name in args[1]:
                out.append((t, args[1][name]))
        return out

    def disconnects(self, path, since):
        """Times of Connected=false changes after `since`."""
        return [t for t, v in self.prop_changes(path, DEVICE1, "Connected", since) if not v]

    def values(self, path, since=0.0, until=None):
        return [bytes(v) for t, v in self.prop_changes(path, CHRC1, "Value", since)
                if until is None or t < until]

    # What bluez-async's get_services / get_characteristics / get_descriptors do.
    def discover(self, device):
        tree = {}
        for node in parse_introspection(self.introspect(device)).findall("node"):
            name = node.get("name")
            if not name.startswith("service"):
                continue
            spath = device + "/" + name
            suuid = str(self.get(spath, "org.bluez.GattService1", "UUID"))
            primary = self.get(spath, "org.bluez.GattService1", "Primary")
            check_type(primary, dbus.Boolean, "Primary")
            chars = {}
            for cnode in parse_introspection(self.introspect(spath)).findall("node"):
                cname = cnode.get("name")
                if not cname.startswith("char"):
                    continue
                cpath = spath + "/" + cname
                props = self.get_all(cpath, CHRC1)
                check_type(props["UUID"], dbus.String, "UUID")
                check_type(props["Flags"], dbus.Array, "Flags")
                if "MTU" in props:
                    check_type(props["MTU"], dbus.UInt16, "MTU")
                descs = {}
                for dnode in parse_introspection(self.introspect(cpath)).findall("node"):
                    dname = dnode.get("name")
                    if dname.startswith("desc"):
                        dpath = cpath + "/" + dname
                        descs[str(self.get(dpath, "org.bluez.GattDescriptor1", "UUID"))] = dpath
                chars[str(props["UUID"])] = (cpath, [str(f) for f in props["Flags"]], descs)
            tree[suuid] = (spath, chars)
        return tree


def check_type(value, typ, name):
    if not isinstance(value, typ):
        raise Failure("%s has type %s, want %s" % (name, type(value).__name__, typ.__name__))


def parse_introspection(xml):
    """Parse, and check the shape serde-xml-rs needs: each kind of child element contiguous."""
    root = ET.fromstring(str(xml).split("\n", 2)[2] if xml.startswith("<!DOCTYPE") else xml)

    def contiguous(elem):
        seen, last = set(), None
        for child in elem:
            if child.tag != last:
                if child.tag in seen:
                    raise Failure("introspection: <%s> elements not contiguous" % child.tag)
                seen.add(child.tag)
                last = child.tag
            contiguous(child)

    contiguous(root)
    for prop in root.iter("property"):
        if prop.get("access") not in ("read", "write", "readwrite") or not prop.get("type"):
            raise Failure("introspection: bad property element")
    return root


def read_log(path):
    with open(path) as f:
        return [line.rstrip("\n") for line in f]


def frames_continuous(stream, label):
    """Every frame in one connection's stream follows its predecessor (no loss, no reorder)."""
    pieces = stream.split(b"\x00")
    ns = []
    for i, piece in enumerate(pieces):
        if i == 0 or i == len(pieces) - 1:
            continue  # may be cut at subscription / link loss
        if len(piece) < 2 or piece[0] != 0xA5:
            raise Failure("%s: malformed frame %r" % (label, piece[:8]))
        n0 = piece[1] - 1
        k = len(piece) - 1
        ns.append((n0, k, piece))
    for (a, _, _), (b, k, piece) in zip(ns, ns[1:]):
        if (a + 1) % 160 != b:
            raise Failure("%s: frame gap %d -> %d" % (label, a, b))
    for n0, k, piece in ns:
        want = bytes(1 + (n0 + i) % 160 for i in range(k))
        if piece[1:] != want:
            # n is only known mod 160, the length 1 + (n*7)%37 must match some n = n0 + 160j
            if not any(1 + ((n0 + 160 * j) * 7) % 37 == k for j in range(37)):
                raise Failure("%s: frame body/length mismatch" % label)
    return len(ns)


# ---------------------------------------------------------------------------------------------

def scenario_proprio(tmp):
    print("proprio profile: scan, connect, GATT, notify, write, forced link losses, reconnect")
    address, _ = start_bus()
    log = os.path.join(tmp, "proprio.log")
    received = os.path.join(tmp, "stdin.bin")
    pidfile = os.path.join(tmp, "device.pid")
    fake = start_fake(address, ["--name", "proprio-sim", "--address", ADDRESS,
                                "--profile", "proprio", "--chunk", "20",
                                "--disconnect-after", "1.5,4", "--log", log],
                      [PY, "-c", DEVICE_SCRIPT, received, pidfile])
    c = Client(address)

    # get_adapters(): GetManagedObjects + AdapterInfo::from_properties.
    objs = c.call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    ad = objs[ADAPTER]["org.bluez.Adapter1"]
    for name, typ in (("Address", dbus.String), ("AddressType", dbus.String),
                      ("Name", dbus.String), ("Alias", dbus.String), ("Modalias", dbus.String),
                      ("Powered", dbus.Boolean), ("Discovering", dbus.Boolean)):
        check_type(ad[name], typ, "Adapter1." + name)
    check(re.fullmatch(r"usb:v[0-9A-F]{4}p[0-9A-F]{4}d[0-9A-F]{4}", ad["Modalias"]) is not None,
          "adapter has every property AdapterInfo requires, Modalias parses")
    check(not any("org.bluez.Device1" in i for i in objs.values()), "no device before a scan")
    root = parse_introspection(c.introspect("/"))
    check([n.get("name") for n in root.findall("node")] == ["org"], "/ introspects with child org")
    check([n.get("name") for n in parse_introspection(c.introspect("/org")).findall("node")]
          == ["bluez"], "/org introspects with child bluez")
    ad_xml = parse_introspection(c.introspect(ADAPTER))
    check(any(i.get("name") == "org.bluez.Adapter1" for i in ad_xml.findall("interface")),
          "adapter introspection lists Adapter1")

    # start_discovery_on_adapter_with_filter(): Set Powered, SetDiscoveryFilter, StartDiscovery.
    c.call(ADAPTER, PROPS, "Set", "org.bluez.Adapter1", "Powered",
           dbus.Boolean(True, variant_level=1))
    err = c.error_of(c.call, ADAPTER, "org.bluez.Adapter1", "SetDiscoveryFilter",
                     dbus.Dictionary({"Bogus": dbus.Boolean(True)}, signature="sv"))
    check(err and err[0] == "org.bluez.Error.InvalidArguments", "unknown filter key rejected")
    c.call(ADAPTER, "org.bluez.Adapter1", "SetDiscoveryFilter", dbus.Dictionary({
        "UUIDs": dbus.Array([PROPRIO_SERVICE], signature="s"),
        "DuplicateData": dbus.Boolean(True), "Transport": dbus.String("auto")}, signature="sv"))
    t_scan = time.monotonic()
    c.call(ADAPTER, "org.bluez.Adapter1", "StartDiscovery")
    c.wait(lambda: any(m == "InterfacesAdded" and a[0] == DEV for _, m, _, a in c.events), 3,
           "device InterfacesAdded")
    check(c.prop_changes(ADAPTER, "org.bluez.Adapter1", "Discovering", t_scan)[0][1] is not None
          and bool(c.get(ADAPTER, "org.bluez.Adapter1", "Discovering")),
          "Discovering became true, device appeared via InterfacesAdded")
    err = c.error_of(c.call, ADAPTER, "org.bluez.Adapter1", "StartDiscovery")
    check(err and err[0] == "org.bluez.Error.InProgress", "second StartDiscovery -> InProgress")

    added = [a for _, m, _, a in c.events if m == "InterfacesAdded" and a[0] == DEV][0]
    dev = added[1]["org.bluez.Device1"]
    for name, typ in (("Address", dbus.String), ("AddressType", dbus.String),
                      ("Paired", dbus.Boolean), ("Connected", dbus.Boolean),
                      ("ServicesResolved", dbus.Boolean), ("Trusted", dbus.Boolean),
                      ("Blocked", dbus.Boolean), ("LegacyPairing", dbus.Boolean),
                      ("RSSI", dbus.Int16), ("Name", dbus.String), ("Alias", dbus.String),
                      ("UUIDs", dbus.Array), ("Adapter", dbus.ObjectPath),
                      ("ManufacturerData", dbus.Dictionary), ("ServiceData", dbus.Dictionary)):
        check_type(dev[name], typ, "Device1." + name)
    check(dev["Address"] == ADDRESS and dev["Name"] == "proprio-sim"
          and PROPRIO_SERVICE in dev["UUIDs"] and dev["AddressType"] in ("public", "random"),
          "device has every property DeviceInfo requires, with BlueZ's types")
    md = dev["ManufacturerData"]
    check(all(isinstance(k, dbus.UInt16) and isinstance(v, dbus.Array) for k, v in md.items()),
          "ManufacturerData is a{qv} of ay")
    dev_all = c.get_all(DEV, DEVICE1)
    check(set(dev_all) == set(dev), "GetAll(Device1) matches InterfacesAdded")
    c.pump(1.2)
    check(len(c.prop_changes(DEV, DEVICE1, "RSSI")) >= 1, "RSSI updates while discovering")

    # connect(): Device1.Connect, then await ServicesResolved.
    t_conn = time.monotonic()
    c.call(DEV, DEVICE1, "Connect")
    c.wait(lambda: bool(c.get(DEV, DEVICE1, "ServicesResolved")), 5, "ServicesResolved")
    conn = c.prop_changes(DEV, DEVICE1, "Connected", t_conn)
    res = c.prop_changes(DEV, DEVICE1, "ServicesResolved", t_conn)
    gatt_added = [t for t, m, _, a in c.events
                  if t >= t_conn and m == "InterfacesAdded" and a[0].startswith(DEV + "/")]
    check(conn and conn[0][1] and res and res[0][1] and conn[0][0] <= gatt_added[0]
          and gatt_added[-1] <= res[0][0],
          "Connected=true, then GATT InterfacesAdded, then ServicesResolved=true")

    tree = c.discover(DEV)
    check(PROPRIO_SERVICE in tree and "0000180f-0000-1000-8000-00805f9b34fb" in tree
          and "0000180a-0000-1000-8000-00805f9b34fb" in tree,
          "services found by introspection: proprio, Battery, Device Information")
    chars = tree[PROPRIO_SERVICE][1]
    tx, tx_flags, tx_descs = chars[TX]
    rx, rx_flags, _ = chars[RX]
    check(tx_flags == ["notify"] and rx_flags == ["write-without-response", "write"]
          and "00002902-0000-1000-8000-00805f9b34fb" in tx_descs,
          "TX notify (with CCCD), RX write + write-without-response")
    bat = tree["0000180f-0000-1000-8000-00805f9b34fb"][1][BATTERY_LEVEL][0]
    check(bytes(c.call(bat, CHRC1, "ReadValue", dbus.Dictionary({}, signature="sv"),
                       byte_arrays=True)) == bytes([87]), "battery level reads 87")
    dis = tree["0000180a-0000-1000-8000-00805f9b34fb"][1]
    fw = bytes(c.call(dis[FIRMWARE][0], CHRC1, "ReadValue",
                      dbus.Dictionary({}, signature="sv"), byte_arrays=True))
    mf = bytes(c.call(dis[MANUFACTURER][0], CHRC1, "ReadValue",
                      dbus.Dictionary({}, signature="sv"), byte_arrays=True))
    check(fw == b"0.1.0" and mf == b"proprio", "Device Information strings read")
    err = c.error_of(c.call, tx, CHRC1, "ReadValue", dbus.Dictionary({}, signature="sv"))
    check(err and err[0] == "org.bluez.Error.NotPermitted", "reading TX -> NotPermitted")
    err = c.error_of(c.call, tx, CHRC1, "StopNotify")
    check(err == ("org.bluez.Error.Failed", "No notify session started"),
          "StopNotify without a session -> btleplug's 'No notify session started'")
    c.pump(0.2)
    check(c.values(tx) == [], "no notifications before StartNotify")

    # subscribe + notifications + writes.
    t_sub = time.monotonic()
    c.call(tx, CHRC1, "StartNotify")
    c.call(tx, CHRC1, "StartNotify")  # BlueZ: a second StartNotify from the same client is ok
    writes = [b"\x01\x02\x03", b"hello, device: a longer write request", b"\xff" * 20]
    c.call(rx, CHRC1, "WriteValue", dbus.ByteArray(writes[0]),
           dbus.Dictionary({"type": "command"}, signature="sv"))
    c.call(rx, CHRC1, "WriteValue", dbus.ByteArray(writes[1]),
           dbus.Dictionary({"type": "request"}, signature="sv"))
    c.call(rx, CHRC1, "WriteValue", dbus.ByteArray(writes[2]),
           dbus.Dictionary({}, signature="sv"))
    err = c.error_of(c.call, rx, CHRC1, "WriteValue", dbus.ByteArray(b"x" * 21),
                     dbus.Dictionary({"type": "command"}, signature="sv"))
    check(err and err[0] == "org.bluez.Error.Failed",
          "write-without-response longer than MTU-3 fails")
    err = c.error_of(c.call, rx, CHRC1, "WriteValue", dbus.ByteArray(b"x"),
                     dbus.Dictionary({"offset": dbus.UInt64(1)}, signature="sv"))
    check(err and err[0] == "org.bluez.Error.InvalidArguments", "offset must be uint16")
    check(bool(c.get(tx, CHRC1, "Notifying")), "Notifying is true")

    # First forced link loss, 1.5 s after the first StartNotify.
    c.wait(lambda: c.disconnects(DEV, t_sub), 4, "forced disconnect 1")
    t_loss1 = c.disconnects(DEV, t_sub)[0]
    check(1.3 < t_loss1 - t_sub < 1.9, "forced link loss %.2f s after subscribing" % (
        t_loss1 - t_sub))
    seg1 = c.values(tx, t_sub)
    check(len(seg1) > 20, "%d notifications received in the first connection" % len(seg1))
    c.pump(0.1)
    sr = c.prop_changes(DEV, DEVICE1, "ServicesResolved", t_sub)
    nf = c.prop_changes(tx, CHRC1, "Notifying", t_sub)
    removed = {a[0] for t, m, _, a in c.events if t >= t_sub and m == "InterfacesRemoved"}
    check(sr and not sr[-1][1] and sr[-1][0] <= t_loss1 and nf and not nf[-1][1]
          and tx in removed and rx in removed and tree[PROPRIO_SERVICE][0] in removed,
          "link loss: ServicesResolved=false, Connected=false, Notifying=false, "
          "GATT InterfacesRemoved")
    check(DEV in c.call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
          and tx not in c.call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"),
          "device stays listed, GATT objects gone")
    err = c.error_of(c.call, rx, CHRC1, "WriteValue", dbus.ByteArray(b"x"),
                     dbus.Dictionary({}, signature="sv"))
    check(err is not None and err[0].startswith("org.freedesktop.DBus.Error.Unknown"),
          "writing to a removed characteristic fails (%s)" % (err and err[0]))
    c.pump(0.3)  # the device keeps producing: these bytes are lost

    # Reconnect, re-subscribe: second forced loss at 4 s after the *first* StartNotify.
    t_conn2 = time.monotonic()
    c.call(DEV, DEVICE1, "Connect")
    c.wait(lambda: bool(c.get(DEV, DEVICE1, "ServicesResolved")), 5, "ServicesResolved 2")
    tree = c.discover(DEV)
    tx2 = tree[PROPRIO_SERVICE][1][TX][0]
    check(tx2 == tx, "same GATT paths after reconnecting")
    t_sub2 = time.monotonic()
    c.call(tx, CHRC1, "StartNotify")
    c.wait(lambda: c.disconnects(DEV, t_sub2), 4, "forced disconnect 2")
    t_loss2 = c.disconnects(DEV, t_sub2)[0]
    check(3.8 < t_loss2 - t_sub < 4.4, "second link loss %.2f s after the first subscribe" % (
        t_loss2 - t_sub))
    seg2 = c.values(tx, t_sub2)

    # Third connection: unsubscribe / resubscribe, then a host disconnect.
    c.call(DEV, DEVICE1, "Connect")
    c.wait(lambda: bool(c.get(DEV, DEVICE1, "ServicesResolved")), 5, "ServicesResolved 3")
    t_sub3 = time.monotonic()
    c.call(tx, CHRC1, "StartNotify")
    c.pump(0.4)
    c.call(tx, CHRC1, "StopNotify")
    t_unsub = time.monotonic()
    c.pump(0.3)
    seg3 = c.values(tx, t_sub3)
    check(c.values(tx, t_unsub + 0.05) == [], "no notifications after StopNotify")
    t_sub4 = time.monotonic()
    c.call(tx, CHRC1, "StartNotify")
    c.pump(0.4)
    c.call(DEV, DEVICE1, "Disconnect")
    check(not bool(c.get(DEV, DEVICE1, "Connected")), "host Disconnect: Connected=false")
    seg4 = c.values(tx, t_sub4)
    c.call(DEV, DEVICE1, "Disconnect")  # disconnecting a disconnected device is fine

    # Errors like BlueZ's.
    err = c.error_of(c.call, DEV, DEVICE1, "Frobnicate")
    check(err and err[0] == "org.freedesktop.DBus.Error.UnknownMethod", "unknown method error")
    err = c.error_of(c.get, DEV, DEVICE1, "NoSuchProperty")
    check(err and err[0] == "org.freedesktop.DBus.Error.InvalidArgs", "unknown property error")
    err = c.error_of(c.call, DEV, PROPS, "Set", DEVICE1, "Connected",
                     dbus.Boolean(True, variant_level=1))
    check(err and err[0] == "org.freedesktop.DBus.Error.PropertyReadOnly", "read-only property")
    err = c.error_of(c.call, DEV, DEVICE1, "Connect", "unexpected")
    check(err and err[0] == "org.bluez.Error.InvalidArguments", "wrong signature rejected")
    err = c.error_of(c.call, DEV, DEVICE1, "Pair")
    check(err and err[0].startswith("org.bluez.Error."), "Pair -> org.bluez error")
    err = c.error_of(c.call, ADAPTER, "org.bluez.Adapter1", "RemoveDevice",
                     dbus.ObjectPath(ADAPTER + "/dev_00_00_00_00_00_00"))
    check(err and err[0] == "org.bluez.Error.DoesNotExist", "RemoveDevice of unknown device")
    check(list(c.call(ADAPTER, "org.bluez.Adapter1", "GetDiscoveryFilters"))
          == ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable",
              "Pattern"], "GetDiscoveryFilters")

    # Discovery sessions are per client and end with the client.
    other = Client(address)
    other.call(ADAPTER, "org.bluez.Adapter1", "StartDiscovery")
    c.call(ADAPTER, "org.bluez.Adapter1", "StopDiscovery")
    check(bool(c.get(ADAPTER, "org.bluez.Adapter1", "Discovering")),
          "still discovering while another client is")
    other.bus.close()
    c.wait(lambda: not bool(c.get(ADAPTER, "org.bluez.Adapter1", "Discovering")), 3,
           "Discovering false after the other client left")
    check(True, "discovery stops when the last discovering client leaves the bus")
    err = c.error_of(c.call, ADAPTER, "org.bluez.Adapter1", "StopDiscovery")
    check(err == ("org.bluez.Error.Failed", "No discovery started"), "StopDiscovery twice")

    # The log against what this host received.
    c.pump(0.2)
    lines = read_log(log)
    notifies = [bytes.fromhex(l.split()[1]) for l in lines if l.startswith("notify ")]
    got = c.values(tx)
    check(notifies == got, "every logged notify arrived, in order (%d notifications)" % len(got))
    check(all(1 <= len(n) <= 20 for n in got), "notifications are at most 20 bytes")
    check(any(b"\x00" in n[:-1] for n in got),
          "some notifications hold the end of one frame and the start of the next")
    check(sum(len(n) == 20 for n in got) > len(got) // 2, "mostly full 20-byte chunks")
    for label, seg in (("connection 1", seg1), ("connection 2", seg2),
                       ("connection 3a", seg3), ("connection 3b", seg4)):
        nframes = frames_continuous(b"".join(seg), label)
        check(nframes > 5, "%s: %d consecutive frames, nothing lost or reordered"
              % (label, nframes))
    events = [l for l in lines if not l.startswith("notify ")]
    want = ["connect", "subscribe"] + ["write " + w.hex() for w in writes] + [
        "disconnect forced", "connect", "subscribe", "disconnect forced",
        "connect", "subscribe", "unsubscribe", "subscribe", "disconnect host"]
    check(events == want, "log events: " + ", ".join(e.split()[0] for e in events))
    with open(received, "rb") as f:
        check(f.read() == b"".join(writes), "host writes reached the device's stdin, in order")

    # SIGTERM: clean exit, device process gone.
    with open(pidfile) as f:
        device_pid = int(f.read())
    fake.send_signal(signal.SIGTERM)
    rc = fake.wait(5)
    stderr = fake.stderr.read()
    check(rc == 0, "SIGTERM -> exit status 0")
    check("Traceback" not in stderr, "no traceback on stderr (%r)" % stderr[-200:])
    time.sleep(0.1)
    gone = False
    try:
        os.kill(device_pid, 0)
    except ProcessLookupError:
        gone = True
    check(gone, "device process killed with the fake")
    c.bus.close()


def scenario_witmotion(tmp):
    print("witmotion profile: filters, 9a34fb UUIDs, random cuts")
    address, _ = start_bus()
    log = os.path.join(tmp, "wit.log")
    fake = start_fake(address, ["--name", "WT901BLE68", "--address", "11:22:33:44:55:66",
                                "--profile", "witmotion", "--chunk", "20", "--cut", "random",
                                "--log", log],
                      ["sh", "-c", r'while true; do printf "\125\141\001\002\003\004\005\006'
                                   r'\007\010\011\012\013\014\015\016\017\020\021\022"; '
                                   r'sleep 0.01; done'])
    c = Client(address)
    dev = ADAPTER + "/dev_11_22_33_44_55_66"
    c.call(ADAPTER, "org.bluez.Adapter1", "SetDiscoveryFilter", dbus.Dictionary({
        "UUIDs": dbus.Array([PROPRIO_SERVICE], signature="s")}, signature="sv"))
    c.call(ADAPTER, "org.bluez.Adapter1", "StartDiscovery")
    c.pump(0.6)
    check(not any(m == "InterfacesAdded" for _, m, _, _ in c.events),
          "a UUID filter that does not match hides the device")
    c.call(ADAPTER, "org.bluez.Adapter1", "SetDiscoveryFilter",
           dbus.Dictionary({}, signature="sv"))
    c.wait(lambda: any(m == "InterfacesAdded" and a[0] == dev for _, m, _, a in c.events), 3,
           "witmotion device")
    check(True, "clearing the filter reveals the device")
    c.call(ADAPTER, "org.bluez.Adapter1", "StopDiscovery")
    c.call(dev, DEVICE1, "Connect")
    c.wait(lambda: bool(c.get(dev, DEVICE1, "ServicesResolved")), 5, "ServicesResolved")
    tree = c.discover(dev)
    check(WIT_SERVICE in tree and WIT_NOTIFY in tree[WIT_SERVICE][1]
          and WIT_WRITE in tree[WIT_SERVICE][1], "ffe5 / ffe4 / ffe9 on the 9a34fb base")
    notify = tree[WIT_SERVICE][1][WIT_NOTIFY][0]
    write = tree[WIT_SERVICE][1][WIT_WRITE][0]
    c.call(notify, CHRC1, "StartNotify")
    c.call(write, CHRC1, "WriteValue", dbus.ByteArray(b"\xff\xaa\x69\x88\xb5"),
           dbus.Dictionary({"type": "command"}, signature="sv"))
    c.pump(0.5)
    got = c.values(notify)
    lines = read_log(log)
    notifies = [bytes.fromhex(l.split()[1]) for l in lines if l.startswith("notify ")]
    check(got and notifies[:len(got)] == got, "witmotion notifications logged and received")
    check(len({len(n) for n in got}) > 3 and max(len(n) for n in got) <= 20,
          "random cuts of 1..20 bytes")
    check("write ffaa6988b5" in lines, "unlock command logged")
    fake.send_signal(signal.SIGINT)
    check(fake.wait(5) == 0, "SIGINT -> exit status 0")
    c.bus.close()


def scenario_unreachable_and_remove(tmp):
    print("link loss with --down-for, RemoveDevice")
    address, _ = start_bus()
    log = os.path.join(tmp, "down.log")
    fake = start_fake(address, ["--disconnect-after", "0.3", "--down-for", "1.5",
                                "--scan-delay", "0.1", "--log", log],
                      ["sh", "-c", "while true; do printf 0123456789; sleep 0.01; done"])
    c = Client(address)
    c.call(ADAPTER, "org.bluez.Adapter1", "StartDiscovery")
    c.wait(lambda: any(m == "InterfacesAdded" and a[0] == DEV for _, m, _, a in c.events), 3,
           "device")
    c.call(DEV, DEVICE1, "Connect")
    tx = c.discover(DEV)[PROPRIO_SERVICE][1][TX][0]
    t_sub = time.monotonic()
    c.call(tx, CHRC1, "StartNotify")
    c.wait(lambda: c.disconnects(DEV, t_sub), 3, "forced loss")
    t0 = time.monotonic()
    err = c.error_of(c.call, DEV, DEVICE1, "Connect")
    check(err == ("org.bluez.Error.Failed", "le-connection-abort-by-local")
          and time.monotonic() - t0 > 0.8,
          "Connect while the device is out of reach fails (%s, %.2f s)" % (err, time.monotonic() - t0))
    c.pump(max(0.0, t0 + 1.6 - time.monotonic()))
    c.call(DEV, DEVICE1, "Connect")
    check(bool(c.get(DEV, DEVICE1, "Connected")), "Connect succeeds once it is back")
    c.call(DEV, DEVICE1, "Disconnect")
    outcome = []
    c.obj(DEV).Connect(dbus_interface=DEVICE1, reply_handler=lambda: outcome.append("ok"),
                       error_handler=lambda e: outcome.append(e.get_dbus_name()))
    c.call(DEV, DEVICE1, "Disconnect")
    c.wait(lambda: outcome, 3, "aborted Connect")
    check(outcome == ["org.bluez.Error.Failed"], "Disconnect aborts a Connect in progress")
    c.pump(0.3)
    c.call(DEV, DEVICE1, "Connect")
    check(bool(c.get(DEV, DEVICE1, "ServicesResolved")), "and the next Connect works")
    t_rm = time.monotonic()
    c.call(ADAPTER, "org.bluez.Adapter1", "RemoveDevice", dbus.ObjectPath(DEV))
    removed = c.wait(lambda: [a for t, m, _, a in c.events if t >= t_rm
                              and m == "InterfacesRemoved" and a[0] == DEV], 2, "removal")
    check(removed and "org.bluez.Device1" in removed[0][1], "RemoveDevice: InterfacesRemoved")
    c.wait(lambda: any(t >= t_rm and m == "InterfacesAdded" and a[0] == DEV
                       for t, m, _, a in c.events), 3, "rediscovery")
    check(True, "the device is found again while discovering")
    events = [l for l in read_log(log) if not l.startswith("notify ")]
    check(events == ["connect", "subscribe", "disconnect forced", "connect", "disconnect host",
                     "connect", "disconnect host"],
          "log: " + ", ".join(events))
    fake.send_signal(signal.SIGTERM)
    check(fake.wait(5) == 0, "SIGTERM -> exit status 0")
    c.bus.close()


def scenario_device_exit_and_bus_loss(tmp):
    print("lifecycle: device exit, bus loss, name already taken")
    address, bus_pid = start_bus()
    fake = start_fake(address, [], ["sh", "-c", "printf abc; sleep 0.3; exit 3"])
    rc = fake.wait(5)
    check(rc == 3, "device exit (status 3) ends the fake with that status")
    check("Traceback" not in fake.stderr.read(), "no traceback")

    fake = start_fake(address, [], ["sleep", "30"])
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
    second = subprocess.run([PY, FAKE], env=env, capture_output=True, text=True, timeout=10)
    check(second.returncode == 2 and "already taken" in second.stderr,
          "a second fake refuses to start: " + second.stderr.strip())
    kill_pid(bus_pid)
    rc = fake.wait(5)
    check(rc == 1, "losing the bus ends the fake (status 1)")
    check("Traceback" not in fake.stderr.read(), "no traceback")


def main():
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    ok = False
    with tempfile.TemporaryDirectory() as tmp:
        try:
            scenario_proprio(tmp)
            scenario_witmotion(tmp)
            scenario_unreachable_and_remove(tmp)
            scenario_device_exit_and_bus_loss(tmp)
            ok = True
        except Failure as exc:
            print("FAIL: %s" % exc)
        except Exception as exc:  # a client-side error is a failure too
            print("FAIL: %s: %s" % (type(exc).__name__, exc))
        finally:
            for proc in fakes:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            for pid in started_pids:
                kill_pid(pid)
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
