// Package vmtest boots kiOS VMs for tests: one call starts QEMU, streams
// the serial console to the test log, prints the QEMU command line for
// reproduction, and powers the VM off when the test ends.
package vmtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/testenv"
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

// Need skips t, a test that boots VMs, unless KIOS_VM=1 (make e2e and
// make test set it) and not -short: a newcomer's plain go test ./...
// boots nothing. A VM test also needs root (TAPs, loop devices).
func Need(t *testing.T, what string) {
	t.Helper()
	if testing.Short() || os.Getenv("KIOS_VM") != "1" {
		t.Skipf("%s: VM tests run with KIOS_VM=1 (make e2e RUN=%s, or make test)", what, t.Name())
	}
	testenv.NeedRoot(t)
}

// Scale stretches a VM test's deadline by KIOS_TIME_SCALE (default 1):
// emulation's speed varies from machine to machine and day to day, and
// one setting gives every wait of the suite room on a slow one.
func Scale(d time.Duration) time.Duration {
	f, err := strconv.ParseFloat(os.Getenv("KIOS_TIME_SCALE"), 64)
	if err != nil || f <= 0 {
		return d
	}
	return time.Duration(float64(d) * f)
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
	ctx, cancel := context.WithTimeout(context.Background(), Scale(timeout))
	defer cancel()
	l, i, err := v.WaitLine(ctx, regexp.MustCompile(pattern), v.mark)
	if err != nil {
		v.consoleFatal(err)
	}
	v.mark = i + 1
	return l.Text
}

// ExpectEvent waits for a PID 1 event that m matches after the last
// matched line, failing the test on timeout. It returns the event.
func (v *VM) ExpectEvent(m events.Matcher, timeout time.Duration) events.Event {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Scale(timeout))
	defer cancel()
	e, i, err := v.WaitEvent(ctx, m, v.mark)
	if err != nil {
		v.consoleFatal(err)
	}
	v.mark = i + 1
	return e
}

// ExpectEventAnywhere waits for a matching event anywhere on the console.
func (v *VM) ExpectEventAnywhere(m events.Matcher, timeout time.Duration) events.Event {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Scale(timeout))
	defer cancel()
	e, _, err := v.WaitEvent(ctx, m, 0)
	if err != nil {
		v.consoleFatal(err)
	}
	return e
}

// Events returns the console's events so far that m matches.
func (v *VM) Events(m events.Matcher) []events.Event {
	var out []events.Event
	for _, l := range v.Lines() {
		if e, ok := events.Parse(l.Text); ok && m.Match(e) {
			out = append(out, e)
		}
	}
	return out
}

// Mark is the index of the console line after the last one Expect matched.
func (v *VM) Mark() int { return v.mark }

// ExpectAnywhere waits for a matching line anywhere on the console.
func (v *VM) ExpectAnywhere(pattern string, timeout time.Duration) string {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Scale(timeout))
	defer cancel()
	l, _, err := v.WaitLine(ctx, regexp.MustCompile(pattern), 0)
	if err != nil {
		v.consoleFatal(err)
	}
	return l.Text
}

// consoleFatal fails a wait for a console line, with the console's
// digest: whether the node was still running, and what the kernel said.
func (v *VM) consoleFatal(err error) {
	v.t.Helper()
	fatalf(v.t, "console: %v\n\t%s", err, strings.Join(Digest(v.Lines()), "\n\t"))
}

// FreePort returns a TCP port free on 127.0.0.1 now, for QEMU to bind
// later. It is taken below the kernel's ephemeral range: a port the
// kernel handed out for listening on :0 is one it may also give to any
// outgoing connection before QEMU binds it (CI once lost a boot so).
func FreePort(t *testing.T) int {
	t.Helper()
	low := ephemeralLow()
	portMu.Lock()
	defer portMu.Unlock()
	for try := 0; try < 200; try++ {
		p := firstTestPort + rand.IntN(low-firstTestPort)
		if portsGiven[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[p] = true
		return p
	}
	t.Fatalf("no free TCP port on 127.0.0.1 in %d-%d after 200 tries", firstTestPort, low-1)
	return 0
}

// firstTestPort is above the well-known and most registered service ports.
const firstTestPort = 20000

var (
	portMu     sync.Mutex
	portsGiven = map[int]bool{} // one process never hands a port out twice
)

// ephemeralLow is the first port of the kernel's ephemeral range, or
// Linux's default when the range cannot be read.
func ephemeralLow() int {
	const linuxDefault = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return linuxDefault
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return linuxDefault
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= firstTestPort+1000 {
		return linuxDefault
	}
	return n
}

// Eventually retries f until it succeeds or the timeout passes.
func Eventually(t *testing.T, what string, timeout time.Duration, f func() error) {
	t.Helper()
	timeout = Scale(timeout)
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(2 * time.Second)
	}
	fatalf(t, "%s: %v", what, fmt.Errorf("still failing after %s: %w", timeout, err))
}

// Holds checks, every 2 s for the whole of d, that something has not
// happened: f returns nil while it holds. The first error fails the
// test, whether the thing happened or f could not look (a check that
// cannot look proves nothing). The failure says what was waited for.
func Holds(t *testing.T, what string, d time.Duration, f func() error) {
	t.Helper()
	start := time.Now()
	for {
		if err := f(); err != nil {
			fatalf(t, "%s: after %s of the %s waited for: %v", what, time.Since(start).Round(time.Second), d, err)
		}
		if time.Since(start) >= d {
			t.Logf("%s: held for %s", what, d)
			return
		}
		time.Sleep(2 * time.Second)
	}
}

// vmSlots bounds the VMs the suite's parallel tests run at once: two, as
// the project's 2-core machines bear (the brief's limit). Tests that run
// two VMs of their own do not call Parallel: Go runs them first, alone.
var vmSlots = make(chan struct{}, 2)

// Parallel lets a one-VM test run beside another one-VM test: most of a
// VM test is waiting on the guest, which a second VM puts to use.
func Parallel(t *testing.T) {
	t.Helper()
	t.Parallel()
	vmSlots <- struct{}{}
	t.Cleanup(func() { <-vmSlots })
}
