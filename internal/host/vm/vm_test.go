package vm

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"kios.dev/kios/internal/shared/events"
)

func TestParseForward(t *testing.T) {
	f, err := ParseForward("8080:80")
	if err != nil || f != (Forward{8080, 80}) {
		t.Errorf("ParseForward(8080:80) = %v, %v", f, err)
	}
	for _, bad := range []string{"", "80", "x:80", "0:80", "70000:80", "8080:-1"} {
		if _, err := ParseForward(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestArgsStayOnThisMachine(t *testing.T) {
	args, err := Args(Config{EFI: "x.efi", Dir: "/d", Forwards: []Forward{{8080, 80}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ")
	for _, want := range []string{"user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80", "-accel tcg", OVMFCode, "fat:/d/esp"} {
		if !strings.Contains(line, want) {
			t.Errorf("command line lacks %q: %s", want, line)
		}
	}
	if _, err := Args(Config{Dir: "/d"}, false); err == nil {
		t.Error("no EFI and no disk accepted")
	}
	args, _ = Args(Config{Disk: "/d/disk.qcow2", Dir: "/d"}, true)
	if line := strings.Join(args, " "); !strings.Contains(line, "format=qcow2") || !strings.Contains(line, "-accel kvm") {
		t.Errorf("disk boot: %s", line)
	}
	// A disk with faults: the device uses the format node, the error
	// injector sits over the same file.
	args, _ = Args(Config{Disk: "/d/disk,1.img", Dir: "/d", DiskFaults: true}, false)
	line = strings.Join(args, " ")
	for _, want := range []string{
		`{"driver":"file","filename":"/d/disk,1.img","node-name":"disk0-file"}`,
		`{"driver":"raw","file":"disk0-file","node-name":"disk0"}`,
		`"driver":"blkdebug","image":"disk0-file"`,
		"virtio-blk-pci,drive=disk0",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("disk with faults: command line lacks %s: %s", want, line)
		}
	}
	// More cards: one on a TAP, two linking VMs point to point.
	args, _ = Args(Config{EFI: "x.efi", Dir: "/d", TAP: "tap1", NICs: []NIC{{TAP: "tap2", MAC: "52:54:00:00:00:02"}, {Local: "127.0.0.1:7000", Remote: "127.0.0.1:7001", SpeedMbps: 1000}}}, false)
	line = strings.Join(args, " ")
	for _, want := range []string{
		"tap,id=net0,ifname=tap1,", "tap,id=net1,ifname=tap2,script=no,downscript=no -device virtio-net-pci,netdev=net1,mac=52:54:00:00:00:02",
		"socket,id=net2,udp=127.0.0.1:7001,localaddr=127.0.0.1:7000 -device virtio-net-pci,netdev=net2,speed=1000,duplex=full",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("more cards: command line lacks %s: %s", want, line)
		}
	}
	if _, err := Args(Config{EFI: "x.efi", Dir: "/d", NICs: []NIC{{MAC: "52:54:00:00:00:02"}}}, false); err == nil {
		t.Error("a card with no backend accepted")
	}
	if err := (&VM{}).DiskWriteErrors(true); err == nil {
		t.Error("DiskWriteErrors on a VM without DiskFaults: no error")
	}
}

func TestTimeline(t *testing.T) {
	lines := []Line{
		{1 * time.Second, "BdsDxe: loading Boot0001"},
		{10 * time.Second, "[    0.000000] Linux version 6.1.0-56-amd64"},
		{13 * time.Second, "kios: t=2.950 step=switch-root status=start"},
		{19 * time.Second, "[    9.4] kios: t=9.411 event=containerd-ready"},
		{21 * time.Second, "[   11.5] kios: t=11.561 event=service-started name=kubelet pid=245 restarts=0"},
		{27 * time.Second, "[   17.0] kios: t=16.967 event=container-started pod=ntp-x container=ntp pid=440"},
	}
	tl := TimelineOf(lines)
	want := map[string]time.Duration{"kernel start": 10 * time.Second, "init start": 13 * time.Second,
		"containerd ready": 19 * time.Second, "kubelet started": 21 * time.Second, "first static pod running": 27 * time.Second}
	for k, v := range want {
		if tl.At[k] != v {
			t.Errorf("%s at %s, want %s", k, tl.At[k], v)
		}
	}
	var b strings.Builder
	TimelineOf(lines[:2]).Print(&b)
	if !strings.Contains(b.String(), "kernel start") || !strings.Contains(b.String(), "-") {
		t.Errorf("partial timeline:\n%s", b.String())
	}
}

func TestWaitEvent(t *testing.T) {
	v := &VM{done: make(chan struct{})}
	v.cond = sync.NewCond(&v.mu)
	v.lines = []Line{
		{Text: "[    9.4] kios: t=9.411 event=containerd-ready"},
		{Text: "[   11.5] kios: t=11.561 event=service-started name=containerd pid=200 restarts=0"},
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		v.mu.Lock()
		v.lines = append(v.lines, Line{Text: "[   11.6] kios: t=11.600 event=service-started name=kubelet pid=245 restarts=0"})
		v.cond.Broadcast()
		v.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, i, err := v.WaitEvent(ctx, events.ServiceStarted.With("name", "kubelet"), 1)
	if err != nil || i != 2 || e.Get("pid") != "245" || e.T != 11.6 {
		t.Fatalf("WaitEvent = %+v, line %d, %v; want the kubelet's start on line 2", e, i, err)
	}
	close(v.done)
	if _, _, err := v.WaitEvent(ctx, events.Halted, 0); err == nil || !strings.Contains(err.Error(), "QEMU exited before event=halted") {
		t.Fatalf("WaitEvent after QEMU exited: %v, want an error naming the event", err)
	}
}
