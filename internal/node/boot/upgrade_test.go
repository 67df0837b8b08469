package boot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/node/health"
	"kios.dev/kios/internal/shared/cmdline"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/osrelease"
	"kios.dev/kios/internal/shared/testenv"
	"kios.dev/kios/internal/shared/upgrade/esp"
	"kios.dev/kios/internal/shared/upgrade/upgradesock"
)

// eventLog keeps the events a test's node logs.
type eventLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *eventLog) Printf(f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
}

func (l *eventLog) find(m events.Matcher) []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return events.Find(l.lines, m)
}

func entriesOf(t *testing.T, names ...string) []esp.Entry {
	t.Helper()
	var out []esp.Entry
	for _, n := range names {
		e, ok := esp.ParseEntry(n)
		if !ok {
			t.Fatalf("%s is not an entry name", n)
		}
		out = append(out, e)
	}
	return out
}

func TestJudgeEntries(t *testing.T) {
	tests := []struct {
		name    string
		running string
		entries []string
		report  []string
		trial   string
	}{
		{"first layout", "1.0.0", nil,
			[]string{`event=boot-entry version=1.0.0 status=first-layout device=/dev/vda1 secure_boot=false entries=""`}, ""},
		{"booted from elsewhere", "1.0.0", []string{"kios-0.9.0.efi"},
			[]string{`event=boot-entry version=1.0.0 status=not-on-esp device=/dev/vda1 secure_boot=false entries=kios-0.9.0.efi`}, ""},
		{"good", "2.0.0", []string{"kios-1.0.0.efi", "kios-2.0.0.efi"},
			[]string{`event=boot-entry version=2.0.0 entry=kios-2.0.0.efi state=good device=/dev/vda1 secure_boot=false entries=kios-1.0.0.efi,kios-2.0.0.efi`}, ""},
		{"on trial, first try", "2.0.0", []string{"kios-1.0.0.efi", "kios-2.0.0+0-1.efi"},
			[]string{`event=boot-entry version=2.0.0 entry=kios-2.0.0+0-1.efi state=trial device=/dev/vda1 secure_boot=false entries=kios-1.0.0.efi,kios-2.0.0+0-1.efi`}, "kios-2.0.0+0-1.efi"},
		{"a failed upgrade came back", "2.0.0", []string{"kios-2.0.0.efi", "kios-3.0.0+0-1.efi"},
			[]string{`event=boot-entry version=2.0.0 entry=kios-2.0.0.efi state=good device=/dev/vda1 secure_boot=false entries=kios-2.0.0.efi,kios-3.0.0+0-1.efi`,
				`event=upgrade-failed version=3.0.0 entry=kios-3.0.0+0-1.efi running=2.0.0 reason="1 boot(s) of it did not pass the health gate: the loader went back to this version"`}, ""},
		{"rolled back by hand", "1.0.0", []string{"kios-1.0.0.efi", "kios-2.0.0+0.efi"},
			[]string{`event=boot-entry version=1.0.0 entry=kios-1.0.0.efi state=good device=/dev/vda1 secure_boot=false entries=kios-1.0.0.efi,kios-2.0.0+0.efi`,
				`event=rolled-back version=2.0.0 entry=kios-2.0.0+0.efi running=1.0.0`}, ""},
		{"an older bad entry is no news", "2.0.0", []string{"kios-1.0.0+0-2.efi", "kios-2.0.0.efi"},
			[]string{`event=boot-entry version=2.0.0 entry=kios-2.0.0.efi state=good device=/dev/vda1 secure_boot=false entries=kios-1.0.0+0-2.efi,kios-2.0.0.efi`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judgeEntries(tt.running, "/dev/vda1", false, entriesOf(t, tt.entries...))
			var got []string
			for _, e := range v.report {
				got = append(got, e.String())
			}
			if diff := cmp.Diff(tt.report, got); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			trial := ""
			if v.trial != nil {
				trial = v.trial.Name()
			}
			if trial != tt.trial {
				t.Errorf("trial = %q, want %q", trial, tt.trial)
			}
		})
	}
}

func TestSecureBootEnforced(t *testing.T) {
	for _, tt := range []struct {
		b    []byte
		want bool
	}{
		{[]byte{6, 0, 0, 0, 1}, true},
		{[]byte{6, 0, 0, 0, 0}, false},
		{[]byte{6, 0, 0, 0}, false},
		{nil, false},
	} {
		if got := secureBootEnforced(tt.b); got != tt.want {
			t.Errorf("secureBootEnforced(%v) = %v, want %v", tt.b, got, tt.want)
		}
	}
}

// upgradeNode is a node on a RAM-backed ESP (a folder) with the given
// entries, running version, and a health gate the test controls.
type upgradeNode struct {
	*Node
	log     *eventLog
	esp     string
	reboots chan string
	kubelet struct {
		mu      sync.Mutex
		started time.Time
		ok      bool
	}
}

func newUpgradeNode(t *testing.T, running string, entries ...string) *upgradeNode {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, esp.EntriesDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(root, esp.EntriesDir, e), []byte(e), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u := &upgradeNode{log: &eventLog{}, esp: root, reboots: make(chan string, 4)}
	u.Node = &Node{Log: u.log, dataDevice: "/dev/vda2",
		Cmdline: cmdline.Kios{BlessAfter: time.Minute, TrialTimeout: 10 * time.Minute}}
	u.UpgradeHost = UpgradeHost{
		OSRelease:  func() ([]byte, error) { return osrelease.Render(running), nil },
		FindESP:    func(data string) (string, error) { return "/dev/vda1", nil },
		SecureBoot: func() bool { return true },
		WithESP: func(dev string, readOnly bool, f func(string) error) error {
			if dev != "/dev/vda1" {
				return fmt.Errorf("mounted %s, not the ESP found", dev)
			}
			return f(root)
		},
		Uptime: func() time.Duration { return 30 * time.Second },
		Reboot: func(reason string) { u.reboots <- reason },
		KubeletStarted: func() (time.Time, bool) {
			u.kubelet.mu.Lock()
			defer u.kubelet.mu.Unlock()
			return u.kubelet.started, u.kubelet.ok
		},
		ClusterMode:  func() bool { return false },
		NodeReady:    func(context.Context) (health.Node, error) { return health.Node{}, fmt.Errorf("standalone") },
		GateInterval: 5 * time.Millisecond,
		SocketPath:   filepath.Join(t.TempDir(), "upgrade.sock"),
	}
	return u
}

func (u *upgradeNode) files(t *testing.T) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(u.esp, esp.EntriesDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range des {
		out = append(out, d.Name())
	}
	sort.Strings(out)
	return out
}

func (u *upgradeNode) boot(t *testing.T, ctx context.Context) {
	t.Helper()
	// bootEntry's work, in the foreground: inspectESP runs to its end.
	v, err := u.runningVersion()
	if err != nil {
		t.Fatal(err)
	}
	u.upgrade.running = v
	u.inspectESP(ctx)
}

// A trial boot whose kubelet has run long enough is blessed: its entry
// loses its counter and the older good entry stays as the fallback.
func TestTrialBlessed(t *testing.T) {
	u := newUpgradeNode(t, "2.0.0", "kios-1.0.0.efi", "kios-2.0.0+0-1.efi")
	u.kubelet.started, u.kubelet.ok = time.Now().Add(-2*time.Minute), true
	u.boot(t, context.Background())
	if diff := cmp.Diff([]string{"kios-1.0.0.efi", "kios-2.0.0.efi"}, u.files(t)); diff != "" {
		t.Errorf("ESP after the blessing (-want +got):\n%s", diff)
	}
	if got := u.log.find(events.BootEntry.With("state", "trial", "secure_boot", "true")); len(got) != 1 {
		t.Errorf("boot-entry state=trial logged %d times, want once: %q", len(got), u.log.lines)
	}
	if got := u.log.find(events.Blessed.With("version", "2.0.0")); len(got) != 1 {
		t.Errorf("no event=blessed version=2.0.0: %q", u.log.lines)
	}
	select {
	case r := <-u.reboots:
		t.Errorf("a blessed boot rebooted (%s)", r)
	default:
	}
}

// A trial boot that does not pass the gate before the trial time runs
// out reboots, so that the loader counts the try, and changes nothing.
func TestTrialFailedReboots(t *testing.T) {
	u := newUpgradeNode(t, "2.0.0", "kios-1.0.0.efi", "kios-2.0.0+0-1.efi")
	u.UpgradeHost.Uptime = func() time.Duration { return u.Cmdline.Trial() } // the trial time is up
	u.boot(t, context.Background())
	select {
	case r := <-u.reboots:
		if r != "trial-failed" {
			t.Errorf("rebooted for %q, want trial-failed", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no reboot 5 s after the trial ran out: %q", u.log.lines)
	}
	if got := u.log.find(events.TrialFailed.With("entry", "kios-2.0.0+0-1.efi", "reason", "the kubelet is not running")); len(got) != 1 {
		t.Errorf("no trial-failed event naming the kubelet: %q", u.log.lines)
	}
	if diff := cmp.Diff([]string{"kios-1.0.0.efi", "kios-2.0.0+0-1.efi"}, u.files(t)); diff != "" {
		t.Errorf("a failed trial changed the ESP (-want +got):\n%s", diff)
	}
}

// PID 1 stopping during a trial is no verdict: no blessing, no reboot.
func TestTrialStoppedIsNoVerdict(t *testing.T) {
	u := newUpgradeNode(t, "2.0.0", "kios-1.0.0.efi", "kios-2.0.0+0-1.efi")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	u.boot(t, ctx)
	if len(u.reboots) != 0 || len(u.log.find(events.Any(events.Blessed, events.TrialFailed))) != 0 {
		t.Errorf("a cancelled trial gave a verdict: reboots %d, log %q", len(u.reboots), u.log.lines)
	}
	if diff := cmp.Diff([]string{"kios-1.0.0.efi", "kios-2.0.0+0-1.efi"}, u.files(t)); diff != "" {
		t.Errorf("a cancelled trial changed the ESP (-want +got):\n%s", diff)
	}
}

// A rollback over the upgrade socket marks the running image bad, so
// the loader boots the previous good one; without a reboot asked for,
// the node stays up. An interrupted upgrade's temporary file is removed
// at boot.
func TestRollbackOverSocket(t *testing.T) {
	testenv.NeedRoot(t) // the upgrade socket answers root only
	u := newUpgradeNode(t, "2.0.0", "kios-1.0.0.efi", "kios-2.0.0.efi", ".kios-3.0.0.efi.tmp-123")
	u.boot(t, context.Background())
	if got := u.log.find(events.ESPCleaned.With("removed", "*")); len(got) != 1 {
		t.Errorf("no esp-cleaned event for the temporary file: %q", u.log.lines)
	}
	res, err := upgradesock.Send(u.UpgradeHost.SocketPath, upgradesock.Request{Op: upgradesock.OpRollback}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Next != "kios-1.0.0.efi" {
		t.Errorf("next boot %q after a rollback, want kios-1.0.0.efi (%+v)", res.Next, res)
	}
	if diff := cmp.Diff([]string{"kios-1.0.0.efi", "kios-2.0.0+0.efi"}, u.files(t)); diff != "" {
		t.Errorf("ESP after the rollback (-want +got):\n%s", diff)
	}
	if got := u.log.find(events.UpgradeRollback.With("running", "2.0.0", "next", "kios-1.0.0.efi")); len(got) != 1 {
		t.Errorf("no upgrade-rollback event: %q", u.log.lines)
	}
	if len(u.reboots) != 0 {
		t.Error("a rollback without reboot rebooted")
	}
}
