package logind

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultDelayMax is logind's default InhibitDelayMaxSec.
const DefaultDelayMax = 5 * time.Second

// DefaultSlack is the Server's Slack on a node: a few seconds for the
// kubelet's release after its grace period, far less than the pods got.
const DefaultSlack = 5 * time.Second

// ReadDelayMax reads InhibitDelayMaxSec from logind's configuration under
// etc (etc/systemd/logind.conf, then the drop-ins in logind.conf.d in
// name order, the last setting winning), as logind does. The kubelet
// writes its drop-in there.
func ReadDelayMax(etc string) time.Duration {
	files := []string{filepath.Join(etc, "systemd", "logind.conf")}
	dropins, _ := filepath.Glob(filepath.Join(etc, "systemd", "logind.conf.d", "*.conf"))
	sort.Strings(dropins)
	d := DefaultDelayMax
	for _, f := range append(files, dropins...) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if v, ok := parseDelay(string(b)); ok {
			d = v
		}
	}
	return d
}

// parseDelay finds InhibitDelayMaxSec in the [Login] section.
func parseDelay(conf string) (time.Duration, bool) {
	var d time.Duration
	found := false
	section := ""
	sc := bufio.NewScanner(strings.NewReader(conf))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section != "Login" || strings.TrimSpace(k) != "InhibitDelayMaxSec" {
			continue
		}
		if t, err := ParseTimespan(strings.TrimSpace(v)); err == nil {
			d, found = t, true
		}
	}
	return d, found
}

// ParseTimespan reads a systemd time span: "30", "30s", "1min 30s",
// "500ms", "infinity" (taken as a day).
func ParseTimespan(s string) (time.Duration, error) {
	if s == "infinity" {
		return 24 * time.Hour, nil
	}
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"usec", time.Microsecond}, {"us", time.Microsecond}, {"msec", time.Millisecond}, {"ms", time.Millisecond},
		{"min", time.Minute}, {"sec", time.Second}, {"s", time.Second}, {"m", time.Minute}, {"hr", time.Hour}, {"h", time.Hour}}
	var total time.Duration
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return 0, fmt.Errorf("empty time span")
	}
	for _, f := range fields {
		unit, num := time.Second, f
		for _, u := range units {
			if strings.HasSuffix(f, u.suffix) {
				unit, num = u.unit, strings.TrimSuffix(f, u.suffix)
				break
			}
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 || v > 1e9 {
			return 0, fmt.Errorf("time span %q", s)
		}
		total += time.Duration(v * float64(unit))
	}
	return total, nil
}
