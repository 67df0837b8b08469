package logind

import (
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"

	"kios.dev/kios/internal/shared/events"
)

// Names and paths the kubelet uses.
const (
	busName      = "org.freedesktop.DBus"
	login1Name   = "org.freedesktop.login1"
	login1Path   = dbus.ObjectPath("/org/freedesktop/login1")
	login1Iface  = "org.freedesktop.login1.Manager"
	systemdIface = "org.freedesktop.systemd1.Manager"
	propsIface   = "org.freedesktop.DBus.Properties"
)

// call answers one method call; nil means no reply.
func (s *Server) call(c *conn, msg *dbus.Message) *dbus.Message {
	iface, _ := msg.Headers[dbus.FieldInterface].Value().(string)
	member, _ := msg.Headers[dbus.FieldMember].Value().(string)
	switch iface + "." + member {
	case busName + ".Hello":
		return reply(msg, c.name)
	case busName + ".AddMatch":
		c.matches = true
		return reply(msg)
	case busName + ".RemoveMatch":
		return reply(msg)
	case busName + ".GetNameOwner":
		return reply(msg, ":1.0")
	case propsIface + ".Get":
		var ifc, prop string
		if dbus.Store(msg.Body, &ifc, &prop) != nil {
			return errorReply(msg, "org.freedesktop.DBus.Error.InvalidArgs", "want (ss)")
		}
		if ifc == login1Iface && prop == "InhibitDelayMaxUSec" {
			return reply(msg, dbus.MakeVariant(uint64(s.DelayMax().Microseconds())))
		}
		return errorReply(msg, "org.freedesktop.DBus.Error.UnknownProperty", "no property "+ifc+"."+prop)
	case login1Iface + ".Inhibit":
		var what, who, why, mode string
		if dbus.Store(msg.Body, &what, &who, &why, &mode) != nil {
			return errorReply(msg, "org.freedesktop.DBus.Error.InvalidArgs", "want (ssss)")
		}
		if !c.unixFDs {
			return errorReply(msg, "org.freedesktop.DBus.Error.NotSupported", "the lock is a file descriptor: negotiate UNIX_FD")
		}
		fd, err := s.inhibit(what, who, why, mode)
		if err != nil {
			return errorReply(msg, "org.freedesktop.DBus.Error.Failed", err.Error())
		}
		defer fd.Close() // sent by then; the client holds its own copy
		r := reply(msg, dbus.UnixFD(fd.Fd()))
		if err := c.send(r); err != nil {
			events.Emit(s.Log, events.SystemBusWriteFailed, "client", c.name, "err", err)
		}
		return nil
	case systemdIface + ".KillUnit":
		// The kubelet asks logind to reload after writing its drop-in;
		// DelayMax reads the configuration on every call, so there is
		// nothing to reload.
		var unit, whom string
		var signal int32
		if dbus.Store(msg.Body, &unit, &whom, &signal) != nil {
			return errorReply(msg, "org.freedesktop.DBus.Error.InvalidArgs", "want (ssi)")
		}
		events.Emit(s.Log, events.SystemBusKillUnit, "unit", unit, "signal", signal)
		return reply(msg)
	}
	return errorReply(msg, "org.freedesktop.DBus.Error.UnknownMethod",
		fmt.Sprintf("kiOS's bus does not implement %s.%s", iface, member))
}

func reply(call *dbus.Message, body ...any) *dbus.Message {
	m := &dbus.Message{Type: dbus.TypeMethodReply, Flags: dbus.FlagNoReplyExpected, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(call.Serial()),
		dbus.FieldSender:      dbus.MakeVariant(login1Name),
	}, Body: body}
	if sender, ok := call.Headers[dbus.FieldSender]; ok {
		m.Headers[dbus.FieldDestination] = sender
	}
	if len(body) > 0 {
		m.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	return m
}

// errorReply's text often quotes what the client sent; D-Bus strings
// must be valid UTF-8 without NUL, or the reply would not encode.
func errorReply(call *dbus.Message, name, text string) *dbus.Message {
	text = strings.ReplaceAll(strings.ToValidUTF8(text, "\uFFFD"), "\x00", `\x00`)
	m := reply(call, text)
	m.Type = dbus.TypeError
	m.Headers[dbus.FieldErrorName] = dbus.MakeVariant(name)
	return m
}

// signal is PrepareForShutdown(active) from login1.
func prepareForShutdown(active bool) *dbus.Message {
	return &dbus.Message{Type: dbus.TypeSignal, Flags: dbus.FlagNoReplyExpected, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:      dbus.MakeVariant(login1Path),
		dbus.FieldInterface: dbus.MakeVariant(login1Iface),
		dbus.FieldMember:    dbus.MakeVariant("PrepareForShutdown"),
		dbus.FieldSender:    dbus.MakeVariant(login1Name),
		dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf(active)),
	}, Body: []any{active}}
}
