// Package vmtest boots kiOS VMs for tests: one call starts QEMU, streams
// the serial console to the test log, prints the QEMU command line for
// reproduction, and powers the VM off when the test ends.
package vmtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kios.dev/kios/internal/vm"
)

// VM is a booted test VM.
type VM struct {
	*vm.VM
	t    *testing.T
	mark int // console lines before this index were already matched
}

type logWriter struct {
	t   *testing.T
	mu  sync.Mutex
	buf string
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf += string(p)
	for {
		i := strings.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Logf("console: %s", strings.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Boot starts a VM for the test.
func Boot(t *testing.T, c vm.Config) *VM {
	t.Helper()
	// Not t.TempDir: QEMU's option syntax breaks on the commas a test's
	// name may hold.
	dir, err := os.MkdirTemp("", "kios-vm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c.Dir = dir
	c.Console = &logWriter{t: t}
	v, err := vm.Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("QEMU command line (to reproduce): %s", v.Command())
	t.Cleanup(func() { v.Stop(30 * time.Second) })
	return &VM{VM: v, t: t}
}

// Expect waits for a console line matching pattern after the last
// matched line, failing the test on timeout. It returns the line.
func (v *VM) Expect(pattern string, timeout time.Duration) string {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	l, i, err := v.WaitLine(ctx, regexp.MustCompile(pattern), v.mark)
	if err != nil {
		v.t.Fatalf("console: %v", err)
	}
	v.mark = i + 1
	return l.Text
}

// Mark is the index of the console line after the last one Expect matched.
func (v *VM) Mark() int { return v.mark }

// ExpectAnywhere waits for a matching line anywhere on the console.
func (v *VM) ExpectAnywhere(pattern string, timeout time.Duration) string {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	l, _, err := v.WaitLine(ctx, regexp.MustCompile(pattern), 0)
	if err != nil {
		v.t.Fatalf("console: %v", err)
	}
	return l.Text
}

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Eventually retries f until it succeeds or the timeout passes.
func Eventually(t *testing.T, what string, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("%s: %v", what, fmt.Errorf("still failing after %s: %w", timeout, err))
}
