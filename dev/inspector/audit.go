package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Socket is a listening socket in the host's network namespace.
type Socket struct {
	Proto string `json:"proto"`
	Addr  string `json:"addr"`
	Port  int    `json:"port"`
	Pid   int    `json:"pid"`
	Exe   string `json:"exe"`
}

// listening reads PID 1's /proc/net tables (the host's network
// namespace): TCP sockets in LISTEN, every bound UDP socket, and the
// process holding each.
func listening() []Socket {
	owners := socketOwners()
	var out []Socket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open("/proc/1/net/" + proto)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			if strings.HasPrefix(proto, "tcp") && fields[3] != "0A" { // LISTEN
				continue
			}
			addr, port := parseHexAddr(fields[1])
			if strings.HasPrefix(proto, "udp") && port == 0 {
				continue
			}
			s := Socket{Proto: proto, Addr: addr, Port: port}
			if o, ok := owners[fields[9]]; ok {
				s.Pid, s.Exe = o.Pid, o.Exe
			}
			out = append(out, s)
		}
		f.Close()
	}
	return out
}

// parseHexAddr decodes /proc/net's "0100007F:2710" form.
func parseHexAddr(s string) (string, int) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return s, 0
	}
	p, _ := strconv.ParseInt(port, 16, 32)
	b, err := hex.DecodeString(host)
	if err != nil {
		return host, int(p)
	}
	// The kernel prints each 32-bit word in host (little-endian) order.
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b).String(), int(p)
}

// socketOwners maps socket inodes to the process holding them.
func socketOwners() map[string]Process {
	out := map[string]Process{}
	for _, p := range processes() {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid))
		for _, fd := range fds {
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.Pid, fd.Name()))
			if err == nil && strings.HasPrefix(l, "socket:[") {
				out[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = p
			}
		}
	}
	return out
}

// sysctls reads every setting under /proc/sys the test asks about.
func sysctls(keys []string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		b, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/")))
		if err != nil {
			out[k] = "error: " + err.Error()
			continue
		}
		out[k] = strings.TrimSpace(string(b))
	}
	return out
}

// trySyscalls tries what RuntimeDefault seccomp must refuse a plain pod,
// prints one line per try, and waits (a pod's log is the report).
func trySyscalls() {
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Seccomp:") {
			fmt.Println("seccomp-mode:", strings.TrimSpace(strings.TrimPrefix(l, "Seccomp:")))
		}
	}
	err := unix.Unshare(unix.CLONE_NEWUSER)
	fmt.Println("unshare-userns:", errName(err))
	_, err = unix.KeyctlJoinSessionKeyring("kios-test")
	fmt.Println("keyctl:", errName(err))
	for {
		time.Sleep(time.Hour) // select{} alone would be a deadlock to Go
	}
}

func errName(err error) string {
	if err == nil {
		return "allowed"
	}
	if errno, ok := err.(unix.Errno); ok {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}
