#!/usr/bin/python3
"""A small fake BlueZ (`org.bluez`) D-Bus service for end-to-end tests without a radio.

It serves the subset of BlueZ that btleplug 0.13 (through bluez-async 0.9 and the `dbus`
crate) uses, with BlueZ's own object layout, property types, signal order and error names:

  /                                   org.freedesktop.DBus.ObjectManager
  /org/bluez                          org.bluez.AgentManager1, org.bluez.ProfileManager1
  /org/bluez/hci0                     org.bluez.Adapter1
  /org/bluez/hci0/dev_AA_BB_..        org.bluez.Device1              (after StartDiscovery)
  .../serviceXXXX                     org.bluez.GattService1         (while connected)
  .../serviceXXXX/charYYYY            org.bluez.GattCharacteristic1  (while connected)
  .../serviceXXXX/charYYYY/descZZZZ   org.bluez.GattDescriptor1      (CCCD, while connected)

Every object also has org.freedesktop.DBus.Properties (Get, GetAll, Set, PropertiesChanged)
and org.freedesktop.DBus.Introspectable (with properties and child nodes: bluez-async finds
services, characteristics and descriptors by introspecting for `service*`, `char*`, `desc*`).

The simulated peripheral is a child process (the command after `--`). Its stdout is the
device's outgoing byte stream: while the host is connected and subscribed to the TX
characteristic, the bytes are cut into notifications of at most --chunk bytes, regardless of
any framing; otherwise they are dropped, as a device with its radio off would. Every
WriteValue on the RX characteristic goes to its stdin.

Usage (with /usr/bin/python3, which has python3-dbus and python3-gi):

  DBUS_SYSTEM_BUS_ADDRESS=unix:path=... /usr/bin/python3 tests/fake_bluez.py \\
      --name proprio-sim --address AA:BB:CC:DD:EE:FF --profile proprio --chunk 20 \\
      --disconnect-after 3,8 --log /tmp/fake.log -- proprio sim-device ...

Prints `ready` on stdout once org.bluez is owned. Exits on SIGTERM/SIGINT (killing the
device process group) and when the device process exits (with its exit status).

Log lines (--log): `connect`, `disconnect host`, `disconnect forced`, `subscribe`,
`unsubscribe` (explicit StopNotify on TX only), `notify <hex>` (each TX notification sent),
`write <hex>` (each WriteValue received on RX).
"""

import argparse
import errno
import fcntl
import os
import random
import signal
import subprocess
import sys
import time
import uuid as uuidlib
from xml.sax.saxutils import quoteattr

import dbus
import dbus.lowlevel
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

BUS_NAME = "org.bluez"
ADAPTER_PATH = "/org/bluez/hci0"

INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PROPERTIES = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
AGENT_MANAGER = "org.bluez.AgentManager1"
PROFILE_MANAGER = "org.bluez.ProfileManager1"
ADAPTER = "org.bluez.Adapter1"
DEVICE = "org.bluez.Device1"
GATT_SERVICE = "org.bluez.GattService1"
GATT_CHRC = "org.bluez.GattCharacteristic1"
GATT_DESC = "org.bluez.GattDescriptor1"

SIG_BASE = "-0000-1000-8000-00805f9b34fb"


def sig_uuid(short):
    """The 128-bit string of a 16-bit SIG UUID."""
    return "%08x%s" % (short, SIG_BASE)


# proprio's wearable (firmware-protocol/src/gatt.rs).
PROPRIO_SERVICE = "7b5e0001-3c1d-4d8e-9f6a-70726f70726f"
PROPRIO_TX = "7b5e0002-3c1d-4d8e-9f6a-70726f70726f"
PROPRIO_RX = "7b5e0003-3c1d-4d8e-9f6a-70726f70726f"
BATTERY_SERVICE = sig_uuid(0x180F)
BATTERY_LEVEL = sig_uuid(0x2A19)
DEVICE_INFORMATION = sig_uuid(0x180A)
MANUFACTURER_NAME = sig_uuid(0x2A29)
MODEL_NUMBER = sig_uuid(0x2A24)
SERIAL_NUMBER = sig_uuid(0x2A25)
FIRMWARE_REVISION = sig_uuid(0x2A26)
GENERIC_ATTRIBUTE = sig_uuid(0x1801)
SERVICE_CHANGED = sig_uuid(0x2A05)
CCCD = sig_uuid(0x2902)

# WitMotion WT901BLE: note the 9a34fb base, not the SIG 9b34fb.
WITMOTION_SERVICE = "0000ffe5-0000-1000-8000-00805f9a34fb"
WITMOTION_NOTIFY = "0000ffe4-0000-1000-8000-00805f9a34fb"
WITMOTION_WRITE = "0000ffe9-0000-1000-8000-00805f9a34fb"

MAX_ATTRIBUTE_LEN = 512

# ---------------------------------------------------------------------------------------------
# Interface descriptions: drive introspection XML, property typing and Set permissions.
# methods: (name, [(arg, type)] in, [(arg, type)] out); signals: (name, [(arg, type)]);
# props: (name, type, access).

INTERFACES = {
    INTROSPECTABLE: {
        "methods": [("Introspect", [], [("xml", "s")])],
    },
    PROPERTIES: {
        "methods": [
            ("Get", [("interface", "s"), ("name", "s")], [("value", "v")]),
            ("Set", [("interface", "s"), ("name", "s"), ("value", "v")], []),
            ("GetAll", [("interface", "s")], [("properties", "a{sv}")]),
        ],
        "signals": [
            ("PropertiesChanged", [("interface", "s"), ("changed_properties", "a{sv}"),
                                   ("invalidated_properties", "as")]),
        ],
    },
    OBJECT_MANAGER: {
        "methods": [("GetManagedObjects", [], [("objects", "a{oa{sa{sv}}}")])],
        "signals": [
            ("InterfacesAdded", [("object", "o"), ("interfaces", "a{sa{sv}}")]),
            ("InterfacesRemoved", [("object", "o"), ("interfaces", "as")]),
        ],
    },
    AGENT_MANAGER: {
        "methods": [
            ("RegisterAgent", [("agent", "o"), ("capability", "s")], []),
            ("UnregisterAgent", [("agent", "o")], []),
            ("RequestDefaultAgent", [("agent", "o")], []),
        ],
    },
    PROFILE_MANAGER: {
        "methods": [
            ("RegisterProfile", [("profile", "o"), ("UUID", "s"), ("options", "a{sv}")], []),
            ("UnregisterProfile", [("profile", "o")], []),
        ],
    },
    ADAPTER: {
        "methods": [
            ("StartDiscovery", [], []),
            ("SetDiscoveryFilter", [("properties", "a{sv}")], []),
            ("StopDiscovery", [], []),
            ("RemoveDevice", [("device", "o")], []),
            ("GetDiscoveryFilters", [], [("filters", "as")]),
        ],
        "props": [
            ("Address", "s", "read"),
            ("AddressType", "s", "read"),
            ("Name", "s", "read"),
            ("Alias", "s", "readwrite"),
            ("Class", "u", "read"),
            ("Powered", "b", "readwrite"),
            ("PowerState", "s", "read"),
            ("Discoverable", "b", "readwrite"),
            ("DiscoverableTimeout", "u", "readwrite"),
            ("Pairable", "b", "readwrite"),
            ("PairableTimeout", "u", "readwrite"),
            ("Discovering", "b", "read"),
            ("UUIDs", "as", "read"),
            ("Modalias", "s", "read"),
            ("Roles", "as", "read"),
        ],
    },
    DEVICE: {
        "methods": [
            ("Disconnect", [], []),
            ("Connect", [], []),
            ("ConnectProfile", [("UUID", "s")], []),
            ("DisconnectProfile", [("UUID", "s")], []),
            ("Pair", [], []),
            ("CancelPairing", [], []),
        ],
        "props": [
            ("Address", "s", "read"),
            ("AddressType", "s", "read"),
            ("Name", "s", "read"),
            ("Alias", "s", "readwrite"),
            ("Paired", "b", "read"),
            ("Bonded", "b", "read"),
            ("Trusted", "b", "readwrite"),
            ("Blocked", "b", "readwrite"),
            ("LegacyPairing", "b", "read"),
            ("RSSI", "n", "read"),
            ("Connected", "b", "read"),
            ("UUIDs", "as", "read"),
            ("Adapter", "o", "read"),
            ("ManufacturerData", "a{qv}", "read"),
            ("ServiceData", "a{sv}", "read"),
            ("ServicesResolved", "b", "read"),
            ("AdvertisingFlags", "ay", "read"),
        ],
    },
    GATT_SERVICE: {
        "props": [
            ("UUID", "s", "read"),
            ("Device", "o", "read"),
            ("Primary", "b", "read"),
            ("Includes", "ao", "read"),
        ],
    },
    GATT_CHRC: {
        "methods": [
            ("ReadValue", [("options", "a{sv}")], [("value", "ay")]),
            ("WriteValue", [("value", "ay"), ("options", "a{sv}")], []),
            ("AcquireWrite", [("options", "a{sv}")], [("fd", "h"), ("mtu", "q")]),
            ("AcquireNotify", [("options", "a{sv}")], [("fd", "h"), ("mtu", "q")]),
            ("StartNotify", [], []),
            ("StopNotify", [], []),
        ],
        "props": [
            ("UUID", "s", "read"),
            ("Service", "o", "read"),
            ("Value", "ay", "read"),
            ("Notifying", "b", "read"),
            ("Flags", "as", "read"),
            ("WriteAcquired", "b", "read"),
            ("NotifyAcquired", "b", "read"),
            ("MTU", "q", "read"),
        ],
    },
    GATT_DESC: {
        "methods": [
            ("ReadValue", [("options", "a{sv}")], [("value", "ay")]),
            ("WriteValue", [("value", "ay"), ("options", "a{sv}")], []),
        ],
        "props": [
            ("UUID", "s", "read"),
            ("Characteristic", "o", "read"),
            ("Value", "ay", "read"),
        ],
    },
}

PROP_TYPES = {
    iface: {name: (sig, access) for (name, sig, access) in spec.get("props", [])}
    for iface, spec in INTERFACES.items()
}

DISCOVERY_FILTERS = ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData",
                     "Discoverable", "Pattern"]


def wrap(sig, value):
    """A Python value as the D-Bus type BlueZ uses for it (the `dbus` crate casts strictly)."""
    if sig == "s":
        return dbus.String(value)
    if sig == "o":
        return dbus.ObjectPath(value)
    if sig == "b":
        return dbus.Boolean(bool(value))
    if sig == "y":
        return dbus.Byte(value)
    if sig == "n":
        return dbus.Int16(value)
    if sig == "q":
        return dbus.UInt16(value)
    if sig == "u":
        return dbus.UInt32(value)
    if sig == "as":
        return dbus.Array([dbus.String(v) for v in value], signature="s")
    if sig == "ao":
        return dbus.Array([dbus.ObjectPath(v) for v in value], signature="o")
    if sig == "ay":
        return dbus.Array([dbus.Byte(b) for b in bytes(value)], signature="y")
    if sig == "a{qv}":
        return dbus.Dictionary({dbus.UInt16(k): wrap("ay", v) for k, v in value.items()},
                               signature="qv")
    if sig == "a{sv}":
        return dbus.Dictionary({dbus.String(k): wrap("ay", v) for k, v in value.items()},
                               signature="sv")
    raise ValueError("no wrapper for D-Bus type %r" % sig)


class BluezError(dbus.DBusException):
    """An error reply named org.bluez.Error.<name>, as BlueZ sends them."""

    def __init__(self, name, message):
        super().__init__(message, name="org.bluez.Error." + name)


class DBusError(dbus.DBusException):
    def __init__(self, name, message):
        super().__init__(message, name=name)


def invalid_args(message="Invalid arguments in method call"):
    return BluezError("InvalidArguments", message)


def not_supported():
    return BluezError("NotSupported", "Operation is not supported")


def normalize_uuid(text):
    """A 16-, 32- or 128-bit UUID string as BlueZ prints it (128-bit, lower case)."""
    text = str(text).strip().lower()
    if len(text) == 4:
        text = "0000" + text + SIG_BASE
    elif len(text) == 8:
        text = text + SIG_BASE
    return str(uuidlib.UUID(text))


def hexs(data):
    return bytes(data).hex()


def warn(message):
    sys.stderr.write("fake_bluez: %s\n" % message)
    sys.stderr.flush()


def guarded(func):
    """Keep an unexpected exception in a GLib callback from escaping as a traceback loop."""

    def wrapper(*args):
        try:
            return func(*args)
        except Exception as exc:  # pragma: no cover - only on bugs
            import traceback
            warn("internal error in %s: %r" % (func.__name__, exc))
            traceback.print_exc()
            return False

    wrapper.__name__ = func.__name__
    return wrapper


# ---------------------------------------------------------------------------------------------
# Exported objects.

class BluezObject(dbus.service.Object):
    """An object with typed properties, PropertiesChanged and full introspection XML."""

    IFACES = []  # the bluez interfaces this object exposes (besides the standard ones)
    STANDARD = [INTROSPECTABLE, PROPERTIES]

    def __init__(self, app, path, props):
        self.app = app
        self.path = path
        self.props = {}
        for iface in self.IFACES:
            self.props[iface] = {}
            for name, value in props.get(iface, {}).items():
                if value is not None:
                    self.props[iface][name] = wrap(PROP_TYPES[iface][name][0], value)
        self.exported = True
        super().__init__(app.bus, path)
        app.objects[path] = self

    def unexport(self):
        if self.exported:
            self.exported = False
            self.app.objects.pop(self.path, None)
            self.remove_from_connection()

    # -- method-call argument checking (dbus-python does not check in_signature) -------------

    def _message_cb(self, connection, message):
        if isinstance(message, dbus.lowlevel.MethodCallMessage):
            expected = None
            try:
                _, parent = dbus.service._method_lookup(
                    self, message.get_member(), message.get_interface())
                expected = parent._dbus_in_signature
            except Exception:
                pass  # unknown method: dbus-python replies UnknownMethod below
            if expected is not None and str(message.get_signature() or "") != expected:
                iface = message.get_interface() or ""
                if iface.startswith("org.bluez."):
                    name = "org.bluez.Error.InvalidArguments"
                else:
                    name = "org.freedesktop.DBus.Error.InvalidArgs"
                if not message.get_no_reply():
                    connection.send_message(dbus.lowlevel.ErrorMessage(
                        message, name, "Invalid arguments in method call"))
                return
        super()._message_cb(connection, message)

    # -- properties ---------------------------------------------------------------------------

    def get_prop(self, iface, name):
        return self.props[iface].get(name)

    def set_props(self, iface, changes, force=False):
        """Update properties (None removes one) and emit PropertiesChanged for the changed."""
        changed = dbus.Dictionary({}, signature="sv")
        invalidated = []
        for name, value in changes.items():
            if value is None:
                if name in self.props[iface]:
                    del self.props[iface][name]
                    invalidated.append(name)
                continue
            wrapped = wrap(PROP_TYPES[iface][name][0], value)
            old = self.props[iface].get(name)
            self.props[iface][name] = wrapped
            if force or old is None or old != wrapped:
                changed[name] = wrapped
        if (changed or invalidated) and self.exported:
            self.PropertiesChanged(iface, changed, dbus.Array(invalidated, signature="s"))

    def managed_interfaces(self):
        result = dbus.Dictionary({}, signature="sa{sv}")
        for iface in self.STANDARD:
            result[iface] = dbus.Dictionary({}, signature="sv")
        for iface in self.IFACES:
            result[iface] = dbus.Dictionary(dict(self.props[iface]), signature="sv")
        return result

    def interface_names(self):
        return list(self.STANDARD) + list(self.IFACES)

    def on_set(self, iface, name, value):
        raise DBusError("org.freedesktop.DBus.Error.PropertyReadOnly",
                        "Property '%s' is not writable" % name)

    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        props = self.props.get(str(interface))
        if props is None:
            raise DBusError("org.freedesktop.DBus.Error.InvalidArgs",
                            "No such interface '%s'" % interface)
        if str(name) not in props:
            raise DBusError("org.freedesktop.DBus.Error.InvalidArgs",
                            "No such property '%s'" % name)
        return props[str(name)]

    @dbus.service.method(PROPERTIES, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        if str(interface) == "":
            merged = {}
            for props in self.props.values():
                merged.update(props)
            return dbus.Dictionary(merged, signature="sv")
        props = self.props.get(str(interface))
        if props is None:
            if str(interface) in self.STANDARD:
                return dbus.Dictionary({}, signature="sv")
            raise DBusError("org.freedesktop.DBus.Error.InvalidArgs",
                            "No such interface '%s'" % interface)
        return dbus.Dictionary(dict(props), signature="sv")

    @dbus.service.method(PROPERTIES, in_signature="ssv", out_signature="")
    def Set(self, interface, name, value):
        interface, name = str(interface), str(name)
        props = self.props.get(interface)
        if props is None:
            raise DBusError("org.freedesktop.DBus.Error.InvalidArgs",
                            "No such interface '%s'" % interface)
        spec = PROP_TYPES[interface].get(name)
        if spec is None or name not in props:
            raise DBusError("org.freedesktop.DBus.Error.InvalidArgs",
                            "No such property '%s'" % name)
        if "write" not in spec[1]:
            raise DBusError("org.freedesktop.DBus.Error.PropertyReadOnly",
                            "Property '%s' is not writable" % name)
        self.on_set(interface, name, value)

    @dbus.service.signal(PROPERTIES, signature="sa{sv}as")
    def PropertiesChanged(self, interface, changed_properties, invalidated_properties):
        pass

    # -- introspection ------------------------------------------------------------------------

    @dbus.service.method(INTROSPECTABLE, in_signature="", out_signature="s",
                         path_keyword="object_path", connection_keyword="connection")
    def Introspect(self, object_path, connection):
        out = ['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
               '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n<node>\n']
        for iface in self.interface_names():
            spec = INTERFACES[iface]
            out.append("  <interface name=%s>\n" % quoteattr(iface))
            for name, args_in, args_out in spec.get("methods", []):
                out.append("    <method name=%s>\n" % quoteattr(name))
                for arg, sig in args_in:
                    out.append("      <arg name=%s type=%s direction=\"in\"/>\n"
                               % (quoteattr(arg), quoteattr(sig)))
                for arg, sig in args_out:
                    out.append("      <arg name=%s type=%s direction=\"out\"/>\n"
                               % (quoteattr(arg), quoteattr(sig)))
                out.append("    </method>\n")
            for name, args in spec.get("signals", []):
                out.append("    <signal name=%s>\n" % quoteattr(name))
                for arg, sig in args:
                    out.append("      <arg name=%s type=%s/>\n" % (quoteattr(arg), quoteattr(sig)))
                out.append("    </signal>\n")
            for name, sig, access in spec.get("props", []):
                out.append("    <property name=%s type=%s access=%s/>\n"
                           % (quoteattr(name), quoteattr(sig), quoteattr(access)))
            out.append("  </interface>\n")
        for child in sorted(connection.list_exported_child_objects(object_path)):
            out.append("  <node name=%s/>\n" % quoteattr(child))
        out.append("</node>\n")
        return "".join(out)


class RootObject(BluezObject):
    STANDARD = [INTROSPECTABLE, OBJECT_MANAGER]

    def __init__(self, app):
        super().__init__(app, "/", {})
        app.objects.pop("/", None)  # the root is not one of its own managed objects

    @dbus.service.method(OBJECT_MANAGER, in_signature="", out_signature="a{oa{sa{sv}}}")
    def GetManagedObjects(self):
        result = dbus.Dictionary({}, signature="oa{sa{sv}}")
        for path, obj in sorted(self.app.objects.items()):
            result[dbus.ObjectPath(path)] = obj.managed_interfaces()
        return result

    @dbus.service.signal(OBJECT_MANAGER, signature="oa{sa{sv}}")
    def InterfacesAdded(self, object_path, interfaces):
        pass

    @dbus.service.signal(OBJECT_MANAGER, signature="oas")
    def InterfacesRemoved(self, object_path, interfaces):
        pass


class BluezRootObject(BluezObject):
    """/org/bluez: the agent and profile managers (accepted, unused)."""

    IFACES = [AGENT_MANAGER, PROFILE_MANAGER]

    @dbus.service.method(AGENT_MANAGER, in_signature="os", out_signature="")
    def RegisterAgent(self, agent, capability):
        pass

    @dbus.service.method(AGENT_MANAGER, in_signature="o", out_signature="")
    def UnregisterAgent(self, agent):
        pass

    @dbus.service.method(AGENT_MANAGER, in_signature="o", out_signature="")
    def RequestDefaultAgent(self, agent):
        pass

    @dbus.service.method(PROFILE_MANAGER, in_signature="osa{sv}", out_signature="")
    def RegisterProfile(self, profile, uuid, options):
        raise not_supported()

    @dbus.service.method(PROFILE_MANAGER, in_signature="o", out_signature="")
    def UnregisterProfile(self, profile):
        raise BluezError("DoesNotExist", "Does Not Exist")


class AdapterObject(BluezObject):
    IFACES = [ADAPTER]

    @dbus.service.method(ADAPTER, in_signature="", out_signature="", sender_keyword="sender")
    def StartDiscovery(self, sender=None):
        self.app.start_discovery(str(sender))

    @dbus.service.method(ADAPTER, in_signature="a{sv}", out_signature="", sender_keyword="sender")
    def SetDiscoveryFilter(self, properties, sender=None):
        self.app.set_discovery_filter(str(sender), properties)

    @dbus.service.method(ADAPTER, in_signature="", out_signature="", sender_keyword="sender")
    def StopDiscovery(self, sender=None):
        self.app.stop_discovery(str(sender))

    @dbus.service.method(ADAPTER, in_signature="o", out_signature="")
    def RemoveDevice(self, device):
        self.app.remove_device(str(device))

    @dbus.service.method(ADAPTER, in_signature="", out_signature="as")
    def GetDiscoveryFilters(self):
        return dbus.Array(DISCOVERY_FILTERS, signature="s")

    def on_set(self, iface, name, value):
        if name == "Powered":
            if not isinstance(value, dbus.Boolean):
                raise BluezError("InvalidArguments", "Invalid arguments in method call")
            self.app.set_powered(bool(value))
        elif name == "Alias":
            if not isinstance(value, dbus.String):
                raise BluezError("InvalidArguments", "Invalid arguments in method call")
            self.set_props(ADAPTER, {"Alias": str(value) or self.get_prop(ADAPTER, "Name")})
        elif name in ("Discoverable", "Pairable"):
            if not isinstance(value, dbus.Boolean):
                raise BluezError("InvalidArguments", "Invalid arguments in method call")
            self.set_props(ADAPTER, {name: bool(value)})
        elif name in ("DiscoverableTimeout", "PairableTimeout"):
            if not isinstance(value, dbus.UInt32):
                raise BluezError("InvalidArguments", "Invalid arguments in method call")
            self.set_props(ADAPTER, {name: int(value)})
        else:
            super().on_set(iface, name, value)


class DeviceObject(BluezObject):
    IFACES = [DEVICE]

    @dbus.service.method(DEVICE, in_signature="", out_signature="",
                         async_callbacks=("reply", "error"))
    def Connect(self, reply, error):
        self.app.connect(reply, error)

    @dbus.service.method(DEVICE, in_signature="", out_signature="",
                         async_callbacks=("reply", "error"))
    def Disconnect(self, reply, error):
        self.app.host_disconnect(reply, error)

    @dbus.service.method(DEVICE, in_signature="s", out_signature="")
    def ConnectProfile(self, uuid):
        raise BluezError("NotAvailable", "Operation currently not available")

    @dbus.service.method(DEVICE, in_signature="s", out_signature="")
    def DisconnectProfile(self, uuid):
        raise BluezError("DoesNotExist", "Does Not Exist")

    @dbus.service.method(DEVICE, in_signature="", out_signature="")
    def Pair(self):
        raise BluezError("AuthenticationRejected", "Authentication Rejected")

    @dbus.service.method(DEVICE, in_signature="", out_signature="")
    def CancelPairing(self):
        raise BluezError("DoesNotExist", "Does Not Exist")

    def on_set(self, iface, name, value):
        if name == "Alias":
            if not isinstance(value, dbus.String):
                raise invalid_args()
            self.set_props(DEVICE, {"Alias": str(value) or self.app.args.name})
        elif name in ("Trusted", "Blocked"):
            if not isinstance(value, dbus.Boolean):
                raise invalid_args()
            self.set_props(DEVICE, {name: bool(value)})
        else:
            super().on_set(iface, name, value)


class ServiceObject(BluezObject):
    IFACES = [GATT_SERVICE]


def parse_io_options(options, allowed):
    """BlueZ's parse_options for ReadValue/WriteValue: (offset, type)."""
    offset, wtype = 0, None
    for key, value in options.items():
        key = str(key)
        if key == "offset":
            if not isinstance(value, dbus.UInt16):
                raise invalid_args()
            offset = int(value)
        elif key == "type" and "type" in allowed:
            if not isinstance(value, dbus.String) or str(value) not in (
                    "request", "command", "reliable"):
                raise invalid_args()
            wtype = str(value)
        elif key == "mtu":
            if not isinstance(value, dbus.UInt16):
                raise invalid_args()
        elif key == "device":
            if not isinstance(value, dbus.ObjectPath):
                raise invalid_args()
        elif key in ("link", "prepare-authorize"):
            pass
        else:
            pass  # BlueZ ignores unknown keys
    return offset, wtype


class CharacteristicObject(BluezObject):
    IFACES = [GATT_CHRC]

    def __init__(self, app, path, props, spec):
        self.spec = spec  # dict: uuid, flags, value, role
        self.notify_clients = set()
        super().__init__(app, path, props)

    @property
    def flags(self):
        return self.spec["flags"]

    @property
    def notifying(self):
        return bool(self.notify_clients)

    @dbus.service.method(GATT_CHRC, in_signature="a{sv}", out_signature="ay")
    def ReadValue(self, options):
        offset, _ = parse_io_options(options, ())
        if "read" not in self.flags:
            raise BluezError("NotPermitted", "Read not permitted")
        value = bytes(self.spec["value"])
        if offset > len(value):
            raise BluezError("InvalidOffset", "Invalid offset")
        # BlueZ caches what it read and announces it like a notification.
        self.set_props(GATT_CHRC, {"Value": value}, force=True)
        return dbus.ByteArray(value[offset:])

    @dbus.service.method(GATT_CHRC, in_signature="aya{sv}", out_signature="", byte_arrays=True)
    def WriteValue(self, value, options):
        offset, wtype = parse_io_options(options, ("type",))
        value = bytes(value)
        flags = self.flags
        if not ({"write", "write-without-response", "reliable-write"} & set(flags)):
            raise BluezError("NotPermitted", "Write not permitted")
        if wtype is None:
            wtype = "request" if "write" in flags else "command"
        if wtype == "request" and "write" not in flags:
            raise not_supported()
        if wtype == "command":
            if "write-without-response" not in flags:
                raise not_supported()
            if len(value) > self.app.mtu - 3:
                raise BluezError("Failed", "Failed to initiate write")
        if wtype == "reliable" and "reliable-write" not in flags:
            raise not_supported()
        if offset + len(value) > MAX_ATTRIBUTE_LEN:
            raise BluezError("Failed", "Operation failed with ATT error: 0x0d")
        if offset != 0:
            raise BluezError("Failed", "Operation failed with ATT error: 0x07")
        self.app.host_wrote(self, value)

    @dbus.service.method(GATT_CHRC, in_signature="a{sv}", out_signature="hq")
    def AcquireWrite(self, options):
        raise not_supported()

    @dbus.service.method(GATT_CHRC, in_signature="a{sv}", out_signature="hq")
    def AcquireNotify(self, options):
        raise not_supported()

    @dbus.service.method(GATT_CHRC, in_signature="", out_signature="", sender_keyword="sender")
    def StartNotify(self, sender=None):
        if not ({"notify", "indicate"} & set(self.flags)):
            raise not_supported()
        sender = str(sender)
        if sender in self.notify_clients:
            return  # BlueZ: already subscribed -> success
        first = not self.notify_clients
        self.notify_clients.add(sender)
        if first:
            self.set_props(GATT_CHRC, {"Notifying": True})
        self.app.subscribed(self)

    @dbus.service.method(GATT_CHRC, in_signature="", out_signature="", sender_keyword="sender")
    def StopNotify(self, sender=None):
        sender = str(sender)
        if sender not in self.notify_clients:
            raise BluezError("Failed", "No notify session started")
        self.notify_clients.discard(sender)
        if not self.notify_clients:
            self.set_props(GATT_CHRC, {"Notifying": False})
        self.app.unsubscribed(self)

    def drop_client(self, sender):
        if sender in self.notify_clients:
            self.notify_clients.discard(sender)
            if not self.notify_clients:
                self.set_props(GATT_CHRC, {"Notifying": False})
                self.app.notify_state_changed(self)

    def notify(self, value):
        self.set_props(GATT_CHRC, {"Value": value}, force=True)


class DescriptorObject(BluezObject):
    IFACES = [GATT_DESC]

    def __init__(self, app, path, props, chrc):
        self.chrc = chrc
        super().__init__(app, path, props)

    def _value(self):
        if self.chrc.notifying:
            return b"\x02\x00" if "indicate" in self.chrc.flags and \
                "notify" not in self.chrc.flags else b"\x01\x00"
        return b"\x00\x00"

    @dbus.service.method(GATT_DESC, in_signature="a{sv}", out_signature="ay")
    def ReadValue(self, options):
        offset, _ = parse_io_options(options, ())
        value = self._value()
        if offset > len(value):
            raise BluezError("InvalidOffset", "Invalid offset")
        self.set_props(GATT_DESC, {"Value": value})
        return dbus.ByteArray(value[offset:])

    @dbus.service.method(GATT_DESC, in_signature="aya{sv}", out_signature="", byte_arrays=True)
    def WriteValue(self, value, options):
        parse_io_options(options, ())
        # BlueZ owns the CCCD: clients use StartNotify/StopNotify.
        raise BluezError("NotPermitted", "Write not permitted")


# ---------------------------------------------------------------------------------------------
# GATT profiles: services of (uuid, [characteristics]); characteristic dicts.

def profile_services(args):
    generic_attribute = (GENERIC_ATTRIBUTE, [
        {"uuid": SERVICE_CHANGED, "flags": ["indicate"], "value": b"", "role": None},
    ])
    if args.profile == "proprio":
        return [
            generic_attribute,
            (DEVICE_INFORMATION, [
                {"uuid": MANUFACTURER_NAME, "flags": ["read"],
                 "value": args.manufacturer.encode(), "role": None},
                {"uuid": MODEL_NUMBER, "flags": ["read"], "value": args.model.encode(),
                 "role": None},
                {"uuid": SERIAL_NUMBER, "flags": ["read"], "value": args.serial.encode(),
                 "role": None},
                {"uuid": FIRMWARE_REVISION, "flags": ["read"], "value": args.firmware.encode(),
                 "role": None},
            ]),
            (BATTERY_SERVICE, [
                {"uuid": BATTERY_LEVEL, "flags": ["read", "notify"],
                 "value": bytes([args.battery]), "role": None},
            ]),
            (PROPRIO_SERVICE, [
                {"uuid": PROPRIO_TX, "flags": ["notify"], "value": b"", "role": "tx"},
                {"uuid": PROPRIO_RX, "flags": ["write-without-response", "write"], "value": b"",
                 "role": "rx"},
            ]),
        ]
    return [
        generic_attribute,
        (WITMOTION_SERVICE, [
            {"uuid": WITMOTION_WRITE, "flags": ["write-without-response", "write"], "value": b"",
             "role": "rx"},
            {"uuid": WITMOTION_NOTIFY, "flags": ["notify"], "value": b"", "role": "tx"},
        ]),
    ]


# ---------------------------------------------------------------------------------------------
# The fake daemon.

class FakeBluez:
    CONNECT_LINK_MS = 60      # Connect -> Connected=true
    RESOLVE_MS = 120          # Connected -> services exported, ServicesResolved=true, reply
    DISCONNECT_MS = 30        # Disconnect -> link down
    CONNECT_FAIL_MS = 1000    # Connect to an unreachable device -> error

    def __init__(self, args, bus, loop):
        self.args = args
        self.bus = bus
        self.loop = loop
        self.objects = {}
        self.exit_code = 0
        self.rng = random.Random(args.seed)
        self.mtu = args.mtu
        self.log_file = open(args.log, "a", buffering=1) if args.log else None

        self.device_path = "%s/dev_%s" % (ADAPTER_PATH, args.address.replace(":", "_"))
        self.device = None
        self.gatt = []            # exported GATT objects, parents first
        self.tx = None
        self.rx = None
        self.connected = False
        self.connecting = False
        self.attempt = 0
        self.pending_connects = []
        self.disconnecting = False
        self.pending_disconnects = []
        self.unreachable_until = 0.0
        self.first_subscribe = None
        self.disconnect_timers = []

        self.adv_uuids = list(args.adv_uuids)
        self.discovery_clients = set()
        self.filters = {}
        self.appear_id = 0
        self.rssi_id = 0

        self.out_buf = bytearray()
        self.flush_id = 0
        self.next_cut = self._cut_size()
        self.proc = None
        self.stdin_fd = None
        self.stdin_buf = bytearray()
        self.stdin_watch = 0
        self.stdout_fd = None

        self.root = RootObject(self)
        self.bluez_root = BluezRootObject(self, "/org/bluez", {})
        self.adapter = AdapterObject(self, ADAPTER_PATH, {ADAPTER: {
            "Address": args.adapter_address,
            "AddressType": "public",
            "Name": "fakebluez",
            "Alias": "fakebluez",
            "Class": 0,
            "Powered": True,
            "PowerState": "on",
            "Discoverable": False,
            "DiscoverableTimeout": 180,
            "Pairable": True,
            "PairableTimeout": 0,
            "Discovering": False,
            "UUIDs": [sig_uuid(0x1800), sig_uuid(0x1801), sig_uuid(0x180A)],
            "Modalias": "usb:v1D6Bp0246d0542",
            "Roles": ["central", "peripheral"],
        }})

        bus.add_signal_receiver(self._name_owner_changed, signal_name="NameOwnerChanged",
                                dbus_interface="org.freedesktop.DBus",
                                bus_name="org.freedesktop.DBus", path="/org/freedesktop/DBus")

    # -- logging ------------------------------------------------------------------------------

    def log(self, line):
        if self.log_file:
            self.log_file.write(line + "\n")
            self.log_file.flush()
        if self.args.verbose:
            warn(line if len(line) < 120 else line[:117] + "...")

    # -- lifecycle ----------------------------------------------------------------------------

    def quit(self, code=0):
        self.exit_code = code
        self.loop.quit()

    def start_device_process(self, command):
        """Starts the device process; returns an error message or None."""
        if not command:
            return None
        try:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         bufsize=0, start_new_session=True)
        except OSError as exc:
            return "cannot start the device process %r: %s" % (command[0], exc.strerror)
        self.stdout_fd = self.proc.stdout.fileno()
        self.stdin_fd = self.proc.stdin.fileno()
        for fd in (self.stdout_fd, self.stdin_fd):
            fl = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        GLib.io_add_watch(self.stdout_fd, GLib.PRIORITY_DEFAULT,
                          GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, self._on_device_stdout)
        GLib.timeout_add(100, self._poll_device)
        return None

    @guarded
    def _poll_device(self, *_):
        if self.proc is None:
            return False
        rc = self.proc.poll()
        if rc is None:
            return True
        # Deliver what it wrote last (if the host is listening) before going away.
        if self.stdout_fd is not None:
            self._read_device_stdout()
        if self.flush_id:
            self._flush()
        code = rc if rc >= 0 else 128 - rc
        if code:
            warn("device process exited with status %d" % code)
        self.quit(code)
        return False

    def stop_device_process(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is not None:
            try:  # anything it left running in its process group
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            return
        for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def close(self):
        self.stop_device_process()
        if self.log_file:
            self.log_file.close()
            self.log_file = None

    # -- device process I/O -------------------------------------------------------------------

    @guarded
    def _on_device_stdout(self, fd, condition):
        return self._read_device_stdout()

    def _read_device_stdout(self):
        while True:
            try:
                data = os.read(self.stdout_fd, 65536)
            except BlockingIOError:
                return True
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                data = b""
            if not data:
                self.stdout_fd = None  # EOF; _poll_device notices the exit
                return False
            self.device_output(data)

    def write_device_stdin(self, data):
        if self.stdin_fd is None:
            return
        self.stdin_buf += data
        self._drain_stdin()

    @guarded
    def _drain_stdin(self, *_):
        while self.stdin_buf and self.stdin_fd is not None:
            try:
                n = os.write(self.stdin_fd, self.stdin_buf)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                warn("device stdin closed (%s); dropping host writes" % exc.strerror)
                self.stdin_fd = None
                self.stdin_buf.clear()
                break
            del self.stdin_buf[:n]
        if self.stdin_buf and self.stdin_fd is not None:
            if not self.stdin_watch:
                self.stdin_watch = GLib.io_add_watch(self.stdin_fd, GLib.PRIORITY_DEFAULT,
                                                     GLib.IO_OUT | GLib.IO_ERR | GLib.IO_HUP,
                                                     self._stdin_writable)
        return False

    @guarded
    def _stdin_writable(self, fd, condition):
        self.stdin_watch = 0
        if condition & (GLib.IO_ERR | GLib.IO_HUP) and not condition & GLib.IO_OUT:
            self.stdin_fd = None
            self.stdin_buf.clear()
            return False
        self._drain_stdin()
        return False

    # -- the outgoing stream -> notifications -------------------------------------------------

    def streaming(self):
        return (self.connected and self.tx is not None and self.tx.exported
                and self.tx.notifying)

    def _cut_size(self):
        if self.args.cut == "random":
            return self.rng.randint(1, self.args.chunk)
        return self.args.chunk

    def device_output(self, data):
        if not self.streaming():
            return  # radio off for this host: the bytes are lost
        self.out_buf += data
        while len(self.out_buf) >= self.next_cut:
            self._send(self.next_cut)
        if self.out_buf and not self.flush_id:
            # Like a connection interval: what is left goes out shortly, or grows into a
            # fuller chunk with the next bytes. Either way cuts ignore frame boundaries.
            self.flush_id = GLib.timeout_add(self.args.flush_ms, self._flush)

    def _send(self, n):
        chunk = bytes(self.out_buf[:n])
        del self.out_buf[:n]
        self.next_cut = self._cut_size()
        self.tx.notify(chunk)
        self.log("notify " + hexs(chunk))

    @guarded
    def _flush(self, *_):
        self.flush_id = 0
        if not self.streaming():
            self.out_buf.clear()
            return False
        while self.out_buf:
            self._send(min(self.next_cut, len(self.out_buf)))
        return False

    def _drop_stream(self):
        self.out_buf.clear()
        if self.flush_id:
            GLib.source_remove(self.flush_id)
            self.flush_id = 0

    # -- discovery ----------------------------------------------------------------------------

    def set_powered(self, powered):
        if powered == bool(self.adapter.get_prop(ADAPTER, "Powered")):
            return
        if not powered:
            if self.connected or self.connecting:
                self._link_down("host")
            self.discovery_clients.clear()
            self._update_discovering()
        self.adapter.set_props(ADAPTER, {"Powered": powered,
                                         "PowerState": "on" if powered else "off"})

    def set_discovery_filter(self, sender, properties):
        flt = {}
        for key, value in properties.items():
            key = str(key)
            if key == "UUIDs":
                if not isinstance(value, dbus.Array):
                    raise invalid_args()
                try:
                    flt["UUIDs"] = [normalize_uuid(u) for u in value]
                except ValueError:
                    raise invalid_args()
            elif key == "RSSI":
                if not isinstance(value, dbus.Int16) or not -127 <= int(value) <= 20:
                    raise invalid_args()
                flt["RSSI"] = int(value)
            elif key == "Pathloss":
                if not isinstance(value, dbus.UInt16):
                    raise invalid_args()
                flt["Pathloss"] = int(value)
            elif key == "Transport":
                if not isinstance(value, dbus.String) or str(value) not in (
                        "auto", "bredr", "le"):
                    raise invalid_args()
                flt["Transport"] = str(value)
            elif key in ("DuplicateData", "Discoverable"):
                if not isinstance(value, dbus.Boolean):
                    raise invalid_args()
                flt[key] = bool(value)
            elif key == "Pattern":
                if not isinstance(value, dbus.String):
                    raise invalid_args()
                flt["Pattern"] = str(value)
            else:
                raise invalid_args()
        if "RSSI" in flt and "Pathloss" in flt:
            raise invalid_args()
        if flt:
            self.filters[sender] = flt
        else:
            self.filters.pop(sender, None)
        if self.discovery_clients:
            self._schedule_appear()

    def _filter_matches(self, flt):
        if flt.get("Transport") == "bredr":
            return False
        uuids = flt.get("UUIDs")
        if uuids and not set(uuids) & set(self.adv_uuids):
            return False
        if "RSSI" in flt and self.args.rssi < flt["RSSI"]:
            return False
        pattern = flt.get("Pattern")
        if pattern and not (self.args.address.startswith(pattern)
                            or self.args.name.startswith(pattern)):
            return False
        return True

    def _visible(self):
        return any(self._filter_matches(self.filters.get(c, {}))
                   for c in self.discovery_clients)

    def start_discovery(self, sender):
        if not self.adapter.get_prop(ADAPTER, "Powered"):
            raise BluezError("NotReady", "Resource Not Ready")
        if sender in self.discovery_clients:
            raise BluezError("InProgress", "Operation already in progress")
        self.discovery_clients.add(sender)
        self._update_discovering()
        self._schedule_appear()

    def stop_discovery(self, sender):
        if sender not in self.discovery_clients:
            raise BluezError("Failed", "No discovery started")
        self.discovery_clients.discard(sender)
        self._update_discovering()

    def _update_discovering(self):
        discovering = bool(self.discovery_clients)
        self.adapter.set_props(ADAPTER, {"Discovering": discovering})
        if discovering and not self.rssi_id and self.args.rssi_interval > 0:
            self.rssi_id = GLib.timeout_add(int(self.args.rssi_interval * 1000), self._rssi_tick)
        if not discovering:
            if self.rssi_id:
                GLib.source_remove(self.rssi_id)
                self.rssi_id = 0
            if self.appear_id:
                GLib.source_remove(self.appear_id)
                self.appear_id = 0

    def _schedule_appear(self):
        if self.device is None and not self.appear_id and self._visible():
            self.appear_id = GLib.timeout_add(int(self.args.scan_delay * 1000), self._appear)

    @guarded
    def _appear(self, *_):
        self.appear_id = 0
        if self.device is not None or not self._visible():
            return False
        if time.monotonic() < self.unreachable_until:
            self.appear_id = GLib.timeout_add(
                int((self.unreachable_until - time.monotonic()) * 1000) + 1, self._appear)
            return False
        args = self.args
        props = {
            "Address": args.address,
            "AddressType": args.address_type,
            "Name": args.name,
            "Alias": args.name,
            "Paired": False,
            "Bonded": False,
            "Trusted": False,
            "Blocked": False,
            "LegacyPairing": False,
            "RSSI": args.rssi,
            "Connected": False,
            "UUIDs": sorted(self.adv_uuids),
            "Adapter": ADAPTER_PATH,
            "ServicesResolved": False,
            "AdvertisingFlags": b"\x06",
        }
        if args.profile == "proprio":
            props["ManufacturerData"] = {0xFFFF: b"proprio"}
            props["ServiceData"] = {BATTERY_SERVICE: bytes([args.battery])}
        self.device = DeviceObject(self, self.device_path, {DEVICE: props})
        self.root.InterfacesAdded(self.device_path, self.device.managed_interfaces())
        return False

    @guarded
    def _rssi_tick(self, *_):
        if (self.device is not None and not self.connected and not self.connecting
                and time.monotonic() >= self.unreachable_until and self._visible()):
            rssi = max(-127, min(20, self.args.rssi + self.rng.randint(-4, 4)))
            self.device.set_props(DEVICE, {"RSSI": rssi})
        return True

    def remove_device(self, path):
        if self.device is None or path != self.device_path:
            raise BluezError("DoesNotExist", "Does Not Exist")
        if self.connected or self.connecting:
            self._link_down("host")
        device, self.device = self.device, None
        names = device.interface_names()
        device.unexport()
        self.root.InterfacesRemoved(self.device_path, dbus.Array(names, signature="s"))
        if self.discovery_clients:
            self._schedule_appear()

    # -- connection ---------------------------------------------------------------------------

    def connect(self, reply, error):
        if self.device is None:  # removed while the call was in flight
            error(BluezError("DoesNotExist", "Does Not Exist"))
            return
        if self.connected and not self.connecting:
            reply()
            return
        if self.connecting:
            error(BluezError("InProgress", "In Progress"))
            return
        if time.monotonic() < self.unreachable_until or self.disconnecting:
            # The device is out of reach: the LE connection attempt times out.
            def fail():
                error(BluezError("Failed", "le-connection-abort-by-local"))
                return False
            GLib.timeout_add(self.CONNECT_FAIL_MS, guarded(fail))
            return
        self.connecting = True
        self.attempt += 1
        self.pending_connects.append((reply, error))
        GLib.timeout_add(self.CONNECT_LINK_MS, self._link_up, self.attempt)

    @guarded
    def _link_up(self, attempt):
        if attempt != self.attempt or not self.connecting:
            return False  # aborted (host Disconnect, power off, RemoveDevice)
        self.connected = True
        self.device.set_props(DEVICE, {"Connected": True})
        self.log("connect")
        GLib.timeout_add(self.RESOLVE_MS, self._resolve, attempt)
        return False

    @guarded
    def _resolve(self, attempt):
        if attempt != self.attempt or not (self.connecting and self.connected):
            return False
        self._export_gatt()
        uuids = set(self.device_uuids_after_resolve())
        self.device.set_props(DEVICE, {"UUIDs": sorted(uuids)})
        self.device.set_props(DEVICE, {"ServicesResolved": True})
        self.connecting = False
        pending, self.pending_connects = self.pending_connects, []
        for reply, _ in pending:
            reply()
        return False

    def device_uuids_after_resolve(self):
        return [sig_uuid(0x1800)] + [uuid for uuid, _ in profile_services(self.args)]

    def _export_gatt(self):
        handle = 1
        for service_uuid, chars in profile_services(self.args):
            spath = "%s/service%04x" % (self.device_path, handle)
            handle += 1
            service = ServiceObject(self, spath, {GATT_SERVICE: {
                "UUID": service_uuid, "Device": self.device_path, "Primary": True,
                "Includes": []}})
            self.gatt.append(service)
            self.root.InterfacesAdded(spath, service.managed_interfaces())
            for spec in chars:
                spec = dict(spec)
                cpath = "%s/char%04x" % (spath, handle)
                handle += 2  # declaration + value
                props = {"UUID": spec["uuid"], "Service": spath, "Value": b"",
                         "Notifying": False if {"notify", "indicate"} & set(spec["flags"])
                         else None,
                         "Flags": spec["flags"], "MTU": self.mtu}
                if "write-without-response" in spec["flags"]:
                    props["WriteAcquired"] = False
                if "notify" in spec["flags"]:
                    props["NotifyAcquired"] = False
                chrc = CharacteristicObject(self, cpath, {GATT_CHRC: props}, spec)
                self.gatt.append(chrc)
                self.root.InterfacesAdded(cpath, chrc.managed_interfaces())
                if spec["role"] == "tx":
                    self.tx = chrc
                elif spec["role"] == "rx":
                    self.rx = chrc
                if {"notify", "indicate"} & set(spec["flags"]):
                    dpath = "%s/desc%04x" % (cpath, handle)
                    handle += 1
                    desc = DescriptorObject(self, dpath, {GATT_DESC: {
                        "UUID": CCCD, "Characteristic": cpath, "Value": b""}}, chrc)
                    self.gatt.append(desc)
                    self.root.InterfacesAdded(dpath, desc.managed_interfaces())
            handle = (handle + 0x0f) & ~0x0f  # next service on a fresh block, as devices do

    def _remove_gatt(self):
        for obj in reversed(self.gatt):
            names = obj.interface_names()
            obj.unexport()
            self.root.InterfacesRemoved(obj.path, dbus.Array(names, signature="s"))
        self.gatt = []
        self.tx = None
        self.rx = None

    def host_disconnect(self, reply, error):
        if not (self.connected or self.connecting):
            reply()
            return
        self.pending_disconnects.append(reply)
        if self.disconnecting:
            return
        self.disconnecting = True
        GLib.timeout_add(self.DISCONNECT_MS, self._host_disconnect_done)

    @guarded
    def _host_disconnect_done(self, *_):
        self.disconnecting = False
        if self.connected or self.connecting:
            self._link_down("host")
        pending, self.pending_disconnects = self.pending_disconnects, []
        for reply in pending:
            reply()
        return False

    def _link_down(self, reason):
        """The link is gone: BlueZ's order of events on a disconnection."""
        was_connected = self.connected
        self.attempt += 1  # cancels pending link-up / resolve steps
        self._drop_stream()
        self.connected = False
        self.connecting = False
        pending, self.pending_connects = self.pending_connects, []
        for _, error in pending:
            error(BluezError("Failed", "le-connection-abort-by-local" if reason == "forced"
                             else "Operation aborted"))
        if was_connected:
            self.log("disconnect " + reason)
        if self.device is not None:
            self.device.set_props(DEVICE, {"ServicesResolved": False})
            self.device.set_props(DEVICE, {"Connected": False})
        for obj in self.gatt:
            if isinstance(obj, CharacteristicObject) and obj.notify_clients:
                obj.notify_clients.clear()
                obj.set_props(GATT_CHRC, {"Notifying": False})
        self._remove_gatt()

    @guarded
    def _forced_disconnect(self, *_):
        if self.connected:
            if self.args.down_for > 0:
                self.unreachable_until = time.monotonic() + self.args.down_for
            self._link_down("forced")
        return False

    # -- GATT traffic -------------------------------------------------------------------------

    def subscribed(self, chrc):
        if chrc is not self.tx:
            return
        self.log("subscribe")
        if self.first_subscribe is None:
            self.first_subscribe = time.monotonic()
            for delay in self.args.disconnect_after:
                self.disconnect_timers.append(
                    GLib.timeout_add(max(0, int(delay * 1000)), self._forced_disconnect))

    def unsubscribed(self, chrc):
        if chrc is self.tx:
            self.log("unsubscribe")
            self.notify_state_changed(chrc)

    def notify_state_changed(self, chrc):
        if chrc is self.tx and not chrc.notifying:
            self._drop_stream()

    def host_wrote(self, chrc, value):
        if chrc is not self.rx:
            return
        self.log("write " + hexs(value))
        self.write_device_stdin(value)

    # -- D-Bus clients going away -------------------------------------------------------------

    @guarded
    def _name_owner_changed(self, name, old_owner, new_owner):
        if new_owner or not name.startswith(":"):
            return
        name = str(name)
        self.filters.pop(name, None)
        if name in self.discovery_clients:
            self.discovery_clients.discard(name)
            self._update_discovering()
        for obj in list(self.gatt):
            if isinstance(obj, CharacteristicObject):
                obj.drop_client(name)


def parse_args(argv):
    if "--" in argv:
        i = argv.index("--")
        argv, command = argv[:i], argv[i + 1:]
    else:
        command = []
    p = argparse.ArgumentParser(
        prog="fake_bluez.py",
        description="Fake org.bluez D-Bus service (one adapter, one BLE peripheral) for "
                    "end-to-end tests. The command after `--` is the device process: its "
                    "stdout becomes TX notifications, RX writes go to its stdin.")
    p.add_argument("--name", default=None, help="advertised name (default per profile)")
    p.add_argument("--address", default="AA:BB:CC:DD:EE:FF", help="device MAC address")
    p.add_argument("--address-type", choices=["public", "random"], default=None,
                   help="default: random for proprio, public for witmotion")
    p.add_argument("--profile", choices=["proprio", "witmotion"], default="proprio")
    p.add_argument("--chunk", type=int, default=20, help="max notification payload bytes")
    p.add_argument("--cut", choices=["fixed", "random"], default="fixed",
                   help="fixed: notifications of --chunk bytes (the rest after --flush-ms); "
                        "random: random sizes in 1..--chunk")
    p.add_argument("--seed", type=int, default=1, help="seed for --cut random and RSSI jitter")
    p.add_argument("--flush-ms", type=int, default=10,
                   help="send a partial chunk after this long without more bytes")
    p.add_argument("--mtu", type=int, default=None,
                   help="ATT MTU (MTU property; write-without-response limit is MTU-3); "
                        "default max(23, chunk+3)")
    p.add_argument("--disconnect-after", default="",
                   help="S1,S2,...: force a link loss S seconds after the host first "
                        "subscribes to TX (all measured from that first StartNotify)")
    p.add_argument("--down-for", type=float, default=0.0,
                   help="after a forced link loss, Connect fails for this many seconds")
    p.add_argument("--scan-delay", type=float, default=0.2,
                   help="seconds from StartDiscovery until the device is found")
    p.add_argument("--rssi", type=int, default=-58)
    p.add_argument("--rssi-interval", type=float, default=1.0,
                   help="RSSI PropertiesChanged period while discovering (0 = off)")
    p.add_argument("--adv-uuids", default=None,
                   help="comma-separated advertised service UUIDs (default: the profile's "
                        "main service; empty = none)")
    p.add_argument("--battery", type=int, default=87, help="battery level (proprio)")
    p.add_argument("--manufacturer", default="proprio")
    p.add_argument("--model", default="proprio wearable (simulated)")
    p.add_argument("--serial", default=None)
    p.add_argument("--firmware", default="0.1.0")
    p.add_argument("--adapter-address", default="5C:F3:70:AA:00:01")
    p.add_argument("--bus", default=None,
                   help="bus address (default: $DBUS_SYSTEM_BUS_ADDRESS)")
    p.add_argument("--log", default=None, help="event log file")
    p.add_argument("--verbose", action="store_true", help="echo events on stderr")
    args = p.parse_args(argv)

    args.address = args.address.upper()
    parts = args.address.split(":")
    if len(parts) != 6 or not all(len(x) == 2 and all(c in "0123456789ABCDEF" for c in x)
                                  for x in parts):
        p.error("--address must look like AA:BB:CC:DD:EE:FF")
    if args.name is None:
        args.name = "proprio-sim" if args.profile == "proprio" else "WT901BLE68"
    if args.address_type is None:
        args.address_type = "random" if args.profile == "proprio" else "public"
    if args.chunk < 1 or args.chunk > MAX_ATTRIBUTE_LEN:
        p.error("--chunk must be in 1..512")
    if args.mtu is None:
        args.mtu = max(23, args.chunk + 3)
    if not 23 <= args.mtu <= 517:
        p.error("--mtu must be in 23..517")
    if not 0 <= args.battery <= 100:
        p.error("--battery must be in 0..100")
    if args.flush_ms < 1:
        p.error("--flush-ms must be at least 1")
    try:
        args.disconnect_after = [float(x) for x in args.disconnect_after.split(",")
                                 if x.strip()]
    except ValueError:
        p.error("--disconnect-after takes comma-separated seconds, e.g. 3,8.5")
    if args.serial is None:
        args.serial = "SIM-" + args.address.replace(":", "")[-6:]
    if args.adv_uuids is None:
        args.adv_uuids = [PROPRIO_SERVICE if args.profile == "proprio" else WITMOTION_SERVICE]
    else:
        try:
            args.adv_uuids = [normalize_uuid(u) for u in args.adv_uuids.split(",") if u.strip()]
        except ValueError:
            p.error("--adv-uuids: not a UUID list")
    args.command = command
    return args


def main(argv):
    args = parse_args(argv)
    address = args.bus or os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    if not address:
        warn("DBUS_SYSTEM_BUS_ADDRESS is not set (or pass --bus ADDRESS)")
        return 2

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    try:
        bus = dbus.bus.BusConnection(address)
    except dbus.DBusException as exc:
        warn("cannot connect to the bus at %s: %s" % (address, exc.get_dbus_message()))
        return 2
    bus.set_exit_on_disconnect(False)
    loop = GLib.MainLoop()
    app = FakeBluez(args, bus, loop)

    def on_bus_lost(*_):
        warn("lost the bus connection")
        app.quit(1)

    bus.add_signal_receiver(on_bus_lost, signal_name="Disconnected",
                            dbus_interface="org.freedesktop.DBus.Local",
                            path="/org/freedesktop/DBus/Local")

    def on_signal():
        app.quit(0)
        return False

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, on_signal)

    try:
        problem = app.start_device_process(args.command)
        if problem is None:
            try:
                result = bus.request_name(BUS_NAME, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
            except dbus.DBusException as exc:
                result = None
                problem = "cannot own %s: %s" % (BUS_NAME, exc.get_dbus_message())
            if problem is None and result != dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER:
                problem = "cannot own %s on %s (already taken)" % (BUS_NAME, address)
        if problem is not None:
            warn(problem)
            return 2
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        loop.run()
    except KeyboardInterrupt:
        pass
    finally:
        app.close()
    return app.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
