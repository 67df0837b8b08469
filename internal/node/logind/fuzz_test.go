package logind

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}

// seedCall is a method call as the kubelet sends it.
func seedCall(t testing.TB, iface, member string, body ...any) []byte {
	m := &dbus.Message{Type: dbus.TypeMethodCall, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(login1Path),
		dbus.FieldDestination: dbus.MakeVariant(login1Name),
		dbus.FieldInterface:   dbus.MakeVariant(iface),
		dbus.FieldMember:      dbus.MakeVariant(member),
	}, Body: body}
	if len(body) > 0 {
		m.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	var b bytes.Buffer
	if err := m.EncodeTo(&b, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b.Bytes()[8:], 1)
	return b.Bytes()
}

// FuzzBus feeds the bus what a client could send: the handshake, then
// messages. Nothing may panic or hang, and every reply must encode and
// name the call it answers.
func FuzzBus(f *testing.F) {
	hs := []byte("\x00AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n")
	f.Add(append(append([]byte{}, hs...), seedCall(f, busName, "Hello")...))
	f.Add(append(append([]byte{}, hs...), seedCall(f, propsIface, "Get", login1Iface, "InhibitDelayMaxUSec")...))
	f.Add(append(append([]byte{}, hs...), seedCall(f, login1Iface, "Inhibit", "shutdown", "kubelet", "why", "delay")...))
	f.Add(append(append([]byte{}, hs...), seedCall(f, systemdIface, "KillUnit", "systemd-logind.service", "all", int32(1))...))
	f.Add([]byte("\x00AUTH\r\nAUTH EXTERNAL\r\nCANCEL\r\nBEGIN\r\n"))
	s := &Server{Log: nopLog{}, DelayMax: func() time.Duration { return time.Second }}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		if _, err := handshake(r, io.Discard, 0, guid); err != nil {
			return
		}
		c := &conn{name: ":1.1"} // no descriptors: nothing is sent
		for i := 0; i < 64; i++ {
			msg, err := readMessage(r)
			if err != nil {
				return
			}
			if msg.Type == dbus.TypeMethodCall {
				if reply := s.call(c, msg); reply != nil {
					// A reply the bus sends must encode and answer the call.
					var b bytes.Buffer
					if _, err := reply.EncodeToWithFDs(&b, binary.LittleEndian); err != nil {
						t.Errorf("reply to %v does not encode: %v", msg, err)
					}
					if v, ok := reply.Headers[dbus.FieldReplySerial]; !ok || v.Value() != msg.Serial() {
						t.Errorf("reply to serial %d carries reply serial %v", msg.Serial(), v)
					}
				}
			}
		}
	})
}

// An error reply quoting a client's string with a NUL or invalid UTF-8
// (found by FuzzBus in CI) must still encode.
func TestErrorReplyEncodesClientBytes(t *testing.T) {
	call := &dbus.Message{Type: dbus.TypeMethodCall, Headers: map[dbus.HeaderField]dbus.Variant{}}
	for _, text := range []string{"no property a\x00b", "no property \xff\xfe", "plain"} {
		var b bytes.Buffer
		if _, err := errorReply(call, "org.freedesktop.DBus.Error.UnknownProperty", text).EncodeToWithFDs(&b, binary.LittleEndian); err != nil {
			t.Errorf("error reply for %q does not encode: %v", text, err)
		}
	}
}
