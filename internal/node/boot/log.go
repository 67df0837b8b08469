// Package boot is PID 1's boot: a list of named steps run in order by a
// small runner that logs each with the uptime in a fixed format.
package boot

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Log writes "kios: t=SECONDS MESSAGE" lines. On the node the writer is
// /dev/kmsg, so lines reach the console and dmesg with kernel timestamps.
type Log struct {
	mu       sync.Mutex
	w        io.Writer
	file     io.Writer // /var/log/init.log once /var/log exists
	early    []string  // lines from before file was set, for it
	detached bool
	prefix   string // e.g. "<5>" for the kmsg notice level
	uptime   func() time.Duration
}

// NewLog returns a Log; uptime nil means the time since boot.
func NewLog(w io.Writer, prefix string, uptime func() time.Duration) *Log {
	if uptime == nil {
		uptime = Uptime
	}
	return &Log{w: w, prefix: prefix, uptime: uptime}
}

// Printf writes one line. Each write to /dev/kmsg is one record, so the
// line is written in one call.
func (l *Log) Printf(format string, args ...any) {
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(msg, "\n") {
		// A kmsg record holds about 1 KiB; longer writes are refused.
		if len(line) > maxLine {
			line = line[:maxLine] + "...(truncated)"
		}
		t := l.uptime().Seconds()
		fmt.Fprintf(l.w, "%skios: t=%.3f %s\n", l.prefix, t, line)
		rec := fmt.Sprintf("kios: t=%.3f %s\n", t, line)
		if l.file != nil {
			io.WriteString(l.file, rec)
		} else if !l.detached && len(l.early) < maxEarly {
			l.early = append(l.early, rec)
		}
	}
}

const (
	maxLine  = 900
	maxEarly = 200
)

// AlsoTo copies every later line to w (PID 1's /var/log/init.log),
// after the lines written before it was known.
func (l *Log) AlsoTo(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		for _, rec := range l.early {
			io.WriteString(w, rec)
		}
		l.early = nil
	}
	l.file = w
}

// Detach stops copying lines to the file and closes it, so the
// filesystem it is on can be unmounted.
func (l *Log) Detach() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.file.(io.Closer); ok {
		c.Close()
	}
	l.file, l.detached = nil, true
}

// Uptime is the time since the kernel started (CLOCK_BOOTTIME), the
// clock of the kernel's own log timestamps.
func Uptime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
