// Package logind is the part of the D-Bus system bus and of
// org.freedesktop.login1 that the upstream kubelet's node-shutdown
// manager uses, served by PID 1: the kubelet takes a "delay" inhibitor
// lock, and when PID 1 is asked to shut down it emits
// PrepareForShutdown(true) and waits until the kubelet has stopped its
// pods and closed the lock (or the maximum delay has passed).
//
// Messages are encoded and decoded with godbus; this package does the
// bus's side of the handshake and answers the few calls the kubelet
// makes. Everything else gets an UnknownMethod error.
package logind

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrAuth is returned when a client fails the handshake.
var ErrAuth = errors.New("D-Bus authentication failed")

// maxAuthLine bounds a handshake line; real ones are a few dozen bytes.
const maxAuthLine = 512

// handshake runs the bus side of the SASL exchange: a NUL byte, then
// "AUTH EXTERNAL <hex uid>" for a client whose uid (from the socket's
// peer credentials) is peerUID, optional NEGOTIATE_UNIX_FD, and BEGIN.
// It reports whether the client may receive file descriptors.
func handshake(r *bufio.Reader, w io.Writer, peerUID uint32, guid string) (unixFDs bool, err error) {
	nul, err := r.ReadByte()
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrAuth, err)
	}
	if nul != 0 {
		return false, fmt.Errorf("%w: no leading NUL byte", ErrAuth)
	}
	authed := false
	for i := 0; i < 16; i++ {
		line, err := readLine(r)
		if err != nil {
			return false, fmt.Errorf("%w: %v", ErrAuth, err)
		}
		cmd, arg, _ := strings.Cut(line, " ")
		switch {
		case cmd == "AUTH" && !authed:
			mech, id, _ := strings.Cut(arg, " ")
			if mech != "EXTERNAL" {
				fmt.Fprint(w, "REJECTED EXTERNAL\r\n")
				continue
			}
			if id != "" {
				raw, err := hex.DecodeString(id)
				uid, perr := strconv.ParseUint(string(raw), 10, 32)
				if err != nil || perr != nil || uint32(uid) != peerUID {
					fmt.Fprint(w, "REJECTED EXTERNAL\r\n")
					continue
				}
			}
			authed = true
			fmt.Fprintf(w, "OK %s\r\n", guid)
		case cmd == "NEGOTIATE_UNIX_FD" && authed:
			unixFDs = true
			fmt.Fprint(w, "AGREE_UNIX_FD\r\n")
		case cmd == "BEGIN" && authed:
			return unixFDs, nil
		case cmd == "CANCEL" || cmd == "ERROR":
			authed = false
			fmt.Fprint(w, "REJECTED EXTERNAL\r\n")
		default:
			fmt.Fprint(w, "ERROR\r\n")
		}
	}
	return false, fmt.Errorf("%w: too many handshake lines", ErrAuth)
}

func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return strings.TrimSuffix(string(b), "\r"), nil
		}
		b = append(b, c)
		if len(b) > maxAuthLine {
			return "", errors.New("handshake line too long")
		}
	}
}
