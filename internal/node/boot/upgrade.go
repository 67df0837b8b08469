package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/node/health"
	"kios.dev/kios/internal/shared/datapart"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/gpt"
	"kios.dev/kios/internal/shared/kubelet"
	"kios.dev/kios/internal/shared/mounts"
	"kios.dev/kios/internal/shared/osrelease"
	"kios.dev/kios/internal/shared/upgrade"
	"kios.dev/kios/internal/shared/upgrade/esp"
	"kios.dev/kios/internal/shared/upgrade/upgradesock"
)

// upgradeState is what PID 1 knows of the image it runs and the ESP it
// came from: the running version, the ESP's device, whether the image
// is on trial. Upgrades, rollbacks and the blessing change the ESP one
// at a time, under mu.
type upgradeState struct {
	mu         sync.Mutex
	running    string
	espDevice  string // "" on a RAM-only node or one booted without entries
	secureBoot bool
}

// rebootDelay lets the upgrade pod report its result before the node
// goes down.
const rebootDelay = 3 * time.Second

// UpgradeHost is what the upgrade glue reads of the machine and does to
// it: the seams its tests replace. A nil field takes the real operation.
type UpgradeHost struct {
	OSRelease  func() ([]byte, error)                                           // the running image's os-release
	FindESP    func(dataDevice string) (string, error)                          // the ESP on the data partition's disk
	SecureBoot func() bool                                                      // the firmware enforces Secure Boot
	WithESP    func(dev string, readOnly bool, f func(root string) error) error // f on the mounted ESP
	Uptime     func() time.Duration
	Reboot     func(reason string) // a reboot that counts as a try
	SocketPath string              // where the upgrade socket is served
	// The health gate's inputs (health.Gate).
	KubeletStarted func() (time.Time, bool)
	ClusterMode    func() bool
	NodeReady      func(ctx context.Context) (health.Node, error)
	Now            func() time.Time
	GateInterval   time.Duration
}

// upgradeHost is n.UpgradeHost with the real operations where it has none.
func (n *Node) upgradeHost() UpgradeHost {
	h := n.UpgradeHost
	if h.OSRelease == nil {
		h.OSRelease = func() ([]byte, error) { return os.ReadFile(filepath.Join("/", osrelease.Path)) }
	}
	if h.FindESP == nil {
		h.FindESP = func(data string) (string, error) { return findESP("/sys/class/block", data) }
	}
	if h.SecureBoot == nil {
		h.SecureBoot = n.readSecureBoot
	}
	if h.WithESP == nil {
		h.WithESP = n.withESP
	}
	if h.Uptime == nil {
		h.Uptime = Uptime
	}
	if h.SocketPath == "" {
		h.SocketPath = filepath.Join(upgradesock.SocketDir, upgradesock.SocketName)
	}
	if h.Reboot == nil {
		h.Reboot = func(reason string) { n.PowerDown(unix.LINUX_REBOOT_CMD_RESTART, reason) }
	}
	if h.KubeletStarted == nil {
		h.KubeletStarted = func() (time.Time, bool) { return n.Sup.Started("kubelet") }
	}
	if h.ClusterMode == nil {
		h.ClusterMode = clusterMode
	}
	if h.NodeReady == nil {
		h.NodeReady = nodeReady
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.GateInterval == 0 {
		h.GateInterval = 5 * time.Second
	}
	return h
}

// bootEntry (run in the background from its step: mounting vfat loads
// modules) looks at the ESP the node booted from: it removes what an
// interrupted upgrade left, reports the running image's entry and any
// failed upgrade, serves the upgrade socket and, when the image is on
// trial, waits for the health gate to bless it.
func (n *Node) bootEntry(ctx context.Context) error {
	version, err := n.runningVersion()
	if err != nil {
		return err
	}
	n.upgrade.running = version
	// The upgrade pod mounts the socket's directory, which exists
	// (empty) on a RAM-only node too.
	_ = os.MkdirAll(upgradesock.SocketDir, 0o700)
	if n.dataDevice == "" {
		events.Emit(n.Log, events.BootEntry, "version", version, "status", "none", "reason", "no data partition: nothing to upgrade in place")
		return nil
	}
	Go(n.Log, "boot-entry", func() { n.inspectESP(ctx) })
	return nil
}

// runningVersion is the running image's version, from its os-release.
func (n *Node) runningVersion() (string, error) {
	b, err := n.upgradeHost().OSRelease()
	if err != nil {
		return "", fmt.Errorf("read the image's version: %w", err)
	}
	info, err := osrelease.Parse(b)
	if err != nil {
		return "", fmt.Errorf("read the image's version: %w", err)
	}
	return info.Version, nil
}

func (n *Node) inspectESP(ctx context.Context) {
	h := n.upgradeHost()
	dev, err := h.FindESP(n.dataDevice)
	if err != nil {
		events.Emit(n.Log, events.BootEntry, "version", n.upgrade.running, "status", "none", "reason", err)
		return
	}
	n.upgrade.secureBoot = h.SecureBoot()
	var entries []esp.Entry
	err = h.WithESP(dev, false, func(root string) error {
		removed, err := esp.RemoveTemp(root)
		if len(removed) > 0 {
			events.Emit(n.Log, events.ESPCleaned, "removed", strings.Join(removed, ","), "reason", "an interrupted upgrade's temporary files")
		}
		if err != nil {
			return err
		}
		entries, err = esp.List(root)
		return err
	})
	if err != nil {
		events.Emit(n.Log, events.BootEntry, "version", n.upgrade.running, "status", "unreadable", "device", dev, "err", err)
		return
	}
	n.upgrade.mu.Lock()
	n.upgrade.espDevice = dev
	n.upgrade.mu.Unlock()
	n.serveUpgrades()
	v := judgeEntries(n.upgrade.running, dev, n.upgrade.secureBoot, entries)
	for _, e := range v.report {
		n.Log.Printf("%s", e)
	}
	if v.trial != nil {
		n.awaitBlessing(ctx, *v.trial)
	}
}

// entryVerdict is what the ESP's entries say of this boot: what to
// report, and the running entry when it is on trial.
type entryVerdict struct {
	report []events.Event
	trial  *esp.Entry
}

// judgeEntries reads the ESP's entries against the running version.
func judgeEntries(running, dev string, secureBoot bool, entries []esp.Entry) entryVerdict {
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	cur, ok := esp.Find(entries, running)
	if !ok {
		// kios disk's first layout has no entries (the EFI at the
		// loader's path; converted at the first upgrade); otherwise this
		// image came from elsewhere (a USB stick beside the disk).
		status := "first-layout"
		if len(entries) > 0 {
			status = "not-on-esp"
		}
		return entryVerdict{report: []events.Event{events.New(events.BootEntry, "version", running, "status", status, "device", dev,
			"secure_boot", secureBoot, "entries", strings.Join(names, ","))}}
	}
	// The loader counts a try down as it boots it: the running image on
	// its last try has no boots left, and is on trial, not bad.
	state := "trial"
	if cur.Good() {
		state = "good"
	}
	v := entryVerdict{report: []events.Event{events.New(events.BootEntry, "version", running, "entry", cur.Name(), "state", state,
		"device", dev, "secure_boot", secureBoot, "entries", strings.Join(names, ","))}}
	for _, e := range entries {
		if !e.Bad() || osrelease.Compare(e.Version, running) <= 0 {
			continue
		}
		if e.Done == 0 {
			// Marked bad before any boot of it: a rollback or a downgrade.
			v.report = append(v.report, events.New(events.RolledBack, "version", e.Version, "entry", e.Name(), "running", running))
			continue
		}
		v.report = append(v.report, events.New(events.UpgradeFailed, "version", e.Version, "entry", e.Name(), "running", running,
			"reason", fmt.Sprintf("%d boot(s) of it did not pass the health gate: the loader went back to this version", e.Done)))
	}
	if !cur.Good() {
		v.trial = &cur
	}
	return v
}

// awaitBlessing blesses the running image once the node passes the
// health gate, or reboots when the trial time runs out, so that the
// loader counts a failed try (and, with none left, boots the previous
// good version).
func (n *Node) awaitBlessing(ctx context.Context, cur esp.Entry) {
	h := n.upgradeHost()
	deadline := h.Now().Add(n.Cmdline.Trial() - h.Uptime())
	gate := health.Gate{
		Stable:         n.Cmdline.Bless(),
		KubeletStarted: h.KubeletStarted,
		Cluster:        h.ClusterMode,
		NodeReady:      h.NodeReady,
		Now:            h.Now,
	}
	events.Emit(n.Log, events.Trial, "entry", cur.Name(), "bless_after", n.Cmdline.Bless(), "trial_timeout", n.Cmdline.Trial())
	ok, reason := gate.Wait(ctx, h.GateInterval, deadline, func(r string) {
		events.Emit(n.Log, events.HealthWait, "reason", r)
	})
	if !ok && ctx.Err() != nil {
		return // PID 1 is stopping: no verdict
	}
	if !ok {
		events.Emit(n.Log, events.TrialFailed, "entry", cur.Name(), "reason", reason)
		h.Reboot("trial-failed")
		return
	}
	res, err := n.changeESP(func(t upgrade.Target) (upgradesock.Result, error) { return t.Bless() })
	if err != nil {
		events.Emit(n.Log, events.BlessFailed, "entry", cur.Name(), "err", err)
		return
	}
	events.Emit(n.Log, events.Blessed, "version", n.upgrade.running, "done", strings.Join(res.Done, "; "), "next", res.Next, "reason", reason)
}

func clusterMode() bool {
	for _, f := range []string{kubelet.KubeconfigFile, kubelet.BootstrapFile} {
		if _, err := os.Stat("/" + f); err == nil {
			return true
		}
	}
	return false
}

func nodeReady(ctx context.Context) (health.Node, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return health.Node{}, err
	}
	name := strings.ToLower(unix.ByteSliceToString(uts.Nodename[:]))
	return health.NodeReadyFrom("/"+kubelet.KubeconfigFile, name)(ctx)
}

// findESP is the ESP on the data partition's disk (sysBlock is
// /sys/class/block): kios disk puts both on the boot disk.
func findESP(sysBlock, dataDevice string) (string, error) {
	disk, _, err := datapart.Parent(sysBlock, dataDevice)
	if err != nil {
		return "", err
	}
	f, err := os.Open(disk)
	if err != nil {
		return "", err
	}
	defer f.Close()
	size, err := f.Seek(0, 2)
	if err != nil {
		return "", err
	}
	t, err := gpt.Read(f, size, 512)
	if err != nil {
		return "", fmt.Errorf("%s: %w", disk, err)
	}
	p, ok := t.Find(gpt.ESPType)
	if !ok {
		return "", fmt.Errorf("%s has no EFI System Partition", disk)
	}
	return datapart.Child(sysBlock, disk, p.Index)
}

// readSecureBoot reads the firmware's SecureBoot variable (efivarfs,
// mounted for the read): 4 bytes of attributes, then 1 when enforced.
func (n *Node) readSecureBoot() bool {
	if _, err := os.Stat("/sys/firmware/efi"); err != nil {
		return false
	}
	if err := n.openModules(); err == nil {
		_, _ = n.modules.Probe("efivarfs")
	}
	if err := n.Mounter.Mount(mounts.EFIVars); err != nil {
		events.Emit(n.Log, events.EFIVarsUnreadable, "err", err)
		return false
	}
	defer n.Mounter.Unmount(mounts.EFIVars.Target)
	b, err := os.ReadFile(filepath.Join(mounts.EFIVars.Target, "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"))
	return err == nil && secureBootEnforced(b)
}

// secureBootEnforced reads the SecureBoot variable's bytes: 4 of
// attributes, then 1 when the firmware enforces it.
func secureBootEnforced(b []byte) bool { return len(b) == 5 && b[4] == 1 }

// withESP mounts the ESP, runs f on it and unmounts it.
func (n *Node) withESP(dev string, readOnly bool, f func(root string) error) error {
	if err := n.openModules(); err != nil {
		return err
	}
	n.probeModules(vfatModules...)
	if err := n.Mounter.Mount(mounts.ESP(dev, readOnly)); err != nil {
		return fmt.Errorf("mount the ESP %s: %w", dev, err)
	}
	ferr := f(mounts.ESPDir)
	if err := n.Mounter.Unmount(mounts.ESPDir); err != nil {
		return errors.Join(ferr, fmt.Errorf("unmount the ESP: %w", err))
	}
	return ferr
}

// changeESP runs one change on the mounted ESP, one at a time.
func (n *Node) changeESP(change func(upgrade.Target) (upgradesock.Result, error)) (upgradesock.Result, error) {
	return n.onESP(false, change)
}

func (n *Node) onESP(readOnly bool, change func(upgrade.Target) (upgradesock.Result, error)) (upgradesock.Result, error) {
	n.upgrade.mu.Lock()
	defer n.upgrade.mu.Unlock()
	if n.upgrade.espDevice == "" {
		return upgradesock.Result{}, errors.New("this node did not boot from an ESP it can change (RAM-only, or no readable ESP on the data partition's disk)")
	}
	var res upgradesock.Result
	err := n.upgradeHost().WithESP(n.upgrade.espDevice, readOnly, func(root string) error {
		var err error
		res, err = change(upgrade.Target{Root: root, Running: n.upgrade.running, SecureBoot: n.upgrade.secureBoot, Free: upgrade.Free})
		return err
	})
	return res, err
}

// serveUpgrades serves the upgrade socket (root-only) to the upgrade pod.
func (n *Node) serveUpgrades() {
	ln, err := upgradesock.Listen(n.upgradeHost().SocketPath)
	if err != nil {
		events.Emit(n.Log, events.UpgradeSocketFailed, "err", err)
		return
	}
	Go(n.Log, "upgrade-socket", func() { _ = upgradesock.Serve(ln, upgradeHandler{n}, n.Log) })
}

// upgradeHandler answers the upgrade socket.
type upgradeHandler struct{ n *Node }

func (h upgradeHandler) Stage(img []byte, req upgradesock.Request) (upgradesock.Result, error) {
	events.Emit(h.n.Log, events.UpgradeStageStart, "bytes", len(img), "tries", req.Tries, "allow_downgrade", req.AllowDowngrade, "reboot", req.Reboot)
	res, err := h.n.changeESP(func(t upgrade.Target) (upgradesock.Result, error) { return t.Stage(img, req) })
	events.Emit(h.n.Log, events.UpgradeStage, "running", res.Running, "next", res.Next, "written", res.Written, "done", strings.Join(res.Done, "; "), "err", errString(err))
	if err == nil && req.Reboot {
		res.Rebooting = true
		h.n.rebootSoon("upgrade")
	}
	return res, err
}

func (h upgradeHandler) Rollback(req upgradesock.Request) (upgradesock.Result, error) {
	res, err := h.n.changeESP(func(t upgrade.Target) (upgradesock.Result, error) { return t.Rollback() })
	events.Emit(h.n.Log, events.UpgradeRollback, "running", res.Running, "next", res.Next, "done", strings.Join(res.Done, "; "), "err", errString(err))
	if err == nil && req.Reboot {
		res.Rebooting = true
		h.n.rebootSoon("rollback")
	}
	return res, err
}

func (h upgradeHandler) Status() (upgradesock.Result, error) {
	return h.n.onESP(true, func(t upgrade.Target) (upgradesock.Result, error) { return t.Status() })
}

func (n *Node) rebootSoon(reason string) {
	Go(n.Log, "reboot", func() {
		time.Sleep(rebootDelay)
		n.upgradeHost().Reboot(reason)
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
