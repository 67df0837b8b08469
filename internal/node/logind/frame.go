package logind

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/godbus/dbus/v5"
)

// Bounds of what a client may send. The kubelet's calls are a few
// hundred bytes.
const (
	maxFields = 4 << 10
	maxBody   = 64 << 10
)

// ErrMessage is returned for a message this bus will not decode.
var ErrMessage = errors.New("bad D-Bus message")

// readMessage reads one message and decodes it with godbus, after
// checking that every length in it fits the message: the decoder
// allocates what a length claims before reading, so a forged length
// must not reach it. Bodies may hold only basic types, which is all a
// client of this bus sends.
func readMessage(r io.Reader) (*dbus.Message, error) {
	fixed := make([]byte, 16)
	if _, err := io.ReadFull(r, fixed); err != nil {
		return nil, err
	}
	var order binary.ByteOrder
	switch fixed[0] {
	case 'l':
		order = binary.LittleEndian
	case 'B':
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: byte order %q", ErrMessage, fixed[0])
	}
	bodyLen, fieldsLen := order.Uint32(fixed[4:]), order.Uint32(fixed[12:])
	if fieldsLen > maxFields || bodyLen > maxBody {
		return nil, fmt.Errorf("%w: %d bytes of header fields and %d of body", ErrMessage, fieldsLen, bodyLen)
	}
	msg := make([]byte, 16+align(int(fieldsLen), 8)+int(bodyLen))
	copy(msg, fixed)
	if _, err := io.ReadFull(r, msg[16:]); err != nil {
		return nil, err
	}
	sig, err := checkFields(msg, order, 16+int(fieldsLen))
	if err != nil {
		return nil, err
	}
	if err := checkValues(msg, order, 16+align(int(fieldsLen), 8), sig); err != nil {
		return nil, err
	}
	return dbus.DecodeMessage(bytes.NewReader(msg))
}

func align(n, a int) int { return (n + a - 1) / a * a }

// checkFields walks the header fields, a(yv) with basic values, and
// returns the body's signature.
func checkFields(b []byte, order binary.ByteOrder, end int) (string, error) {
	sig := ""
	for pos := 16; pos < end; {
		pos = align(pos, 8)
		if pos+2 > end {
			return "", fmt.Errorf("%w: truncated header field", ErrMessage)
		}
		code, n := b[pos], int(b[pos+1])
		if pos+2+n+1 > end {
			return "", fmt.Errorf("%w: truncated header field", ErrMessage)
		}
		vsig := string(b[pos+2 : pos+2+n])
		pos += 2 + n + 1
		if len(vsig) != 1 {
			return "", fmt.Errorf("%w: header field %d of type %q", ErrMessage, code, vsig)
		}
		start := pos
		next, err := checkValue(b[:end], order, pos, vsig[0])
		if err != nil {
			return "", err
		}
		if code == byte(dbus.FieldSignature) && vsig == "g" {
			sig = string(b[start+1 : next-1])
		}
		pos = next
	}
	return sig, nil
}

// checkValues checks a body of basic values against its signature.
func checkValues(b []byte, order binary.ByteOrder, pos int, sig string) error {
	for i := 0; i < len(sig); i++ {
		next, err := checkValue(b, order, pos, sig[i])
		if err != nil {
			return err
		}
		pos = next
	}
	if pos != len(b) {
		return fmt.Errorf("%w: body of %d bytes where its signature %q takes %d", ErrMessage, len(b), sig, pos)
	}
	return nil
}

// checkValue checks one basic value at pos and returns where it ends.
func checkValue(b []byte, order binary.ByteOrder, pos int, t byte) (int, error) {
	short := fmt.Errorf("%w: value of type %c runs past the message", ErrMessage, t)
	switch t {
	case 'y':
		pos++
	case 'b', 'u', 'i', 'h':
		pos = align(pos, 4) + 4
	case 'n', 'q':
		pos = align(pos, 2) + 2
	case 't', 'x', 'd':
		pos = align(pos, 8) + 8
	case 's', 'o':
		pos = align(pos, 4)
		if pos+4 > len(b) {
			return 0, short
		}
		n := int(order.Uint32(b[pos:]))
		if n > len(b) {
			return 0, short
		}
		pos += 4 + n + 1
	case 'g':
		if pos >= len(b) {
			return 0, short
		}
		pos += 1 + int(b[pos]) + 1
	default:
		return 0, fmt.Errorf("%w: type %q is not taken here", ErrMessage, t)
	}
	if pos > len(b) {
		return 0, short
	}
	return pos, nil
}
