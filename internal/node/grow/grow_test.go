package grow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/ext4"
	"kios.dev/kios/internal/shared/gpt"
	"kios.dev/kios/internal/shared/testenv"
)

type testLog struct{ t *testing.T }

func (l testLog) Printf(f string, a ...any) { l.t.Logf(f, a...) }

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestGrowLoopDisk grows a mounted ext4 on a loop device the way the
// grow pod does on a node: a 64 MiB disk image with a kios layout, made
// 256 MiB, granted over the socket, grown, and grown again.
func TestGrowLoopDisk(t *testing.T) {
	testenv.NeedRoot(t) // loop devices and mounts
	const mib = 1 << 20
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(64 * mib)
	err = gpt.Write(f, 64*mib, "abcdefab-cdef-abcd-efab-cdefabcdefab", []gpt.Spec{
		{Type: gpt.ESPType, GUID: "11111111-2222-3333-4444-555555555555", Name: "esp", FirstLBA: 2048, LastLBA: 4095},
		{Type: gpt.DataPartitionType, GUID: "66666666-7777-8888-9999-aaaaaaaaaaaa", Name: "kios-data", FirstLBA: 4096, LastLBA: 63*mib/512 - 1},
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	loop := run(t, "losetup", "--find", "--show", "--partscan", img)
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	part := loop + "p2" // devtmpfs makes the node when the kernel scans the table
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(part); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(part); err != nil {
		run(t, "partx", "--add", loop) // some kernels scan loop devices late
	}
	run(t, "mkfs.ext4", "-q", "-F", part)
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	run(t, "mount", part, mnt)
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	before := uint64(63*mib - 2*mib) // the partition, which mkfs filled

	if err := os.Truncate(img, 256*mib); err != nil {
		t.Fatal(err)
	}
	run(t, "losetup", "--set-capacity", loop)

	sock := filepath.Join(dir, "grant", SocketName)
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go Serve(ln, Grant{Disk: loop, Partition: 2, Dir: mnt}, testLog{t})

	grow := func() gpt.Growth {
		target, err := Request(sock)
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		g, _, err := GrowPartition(target)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	first := grow()
	t.Logf("first grow: %+v", first)
	if !first.Changed() || first.NewLastLBA != 255*mib/512-1 {
		t.Errorf("first grow: %+v, want the partition to end at LBA %d", first, 255*mib/512-1)
	}
	// The kernel sees the new size (in 512-byte sectors) at once.
	raw, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(part), "size"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(raw)), fmt.Sprint(255*mib/512-4096); got != want {
		t.Errorf("kernel's size of %s: %s sectors, want %s", part, got, want)
	}
	if second := grow(); second.Changed() {
		t.Errorf("second grow changed something: %+v", second)
	}
	if out := run(t, "sfdisk", "--verify", loop); strings.Contains(out, "corrupt") {
		t.Errorf("sfdisk --verify: %s", out)
	}
	// The filesystem is grown by the ioctl the kernel keeps for
	// CAP_SYS_RESOURCE, which this sandbox may lack: the VM test
	// (dev/e2e TestDataPartition) proves that part on a real node.
	// Here the superblock reader is checked against the mounted size.
	target, err := Request(sock)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ext4.Read(target.Disk, 4096*512)
	target.Close()
	if err != nil || sb.BlockSize*sb.Blocks != before {
		t.Errorf("superblock: %d blocks of %d bytes (%v), want the %d bytes mkfs made", sb.Blocks, sb.BlockSize, err, before)
	}
	unix.Unmount(mnt, 0)
	run(t, "e2fsck", "-f", "-n", part)
}

// TestGrantRootOnly checks that a non-root process gets nothing.
func TestGrantRootOnly(t *testing.T) {
	if sock := os.Getenv("GROW_TEST_REQUEST"); sock != "" {
		_, err := Request(sock)
		if err == nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	testenv.NeedRoot(t) // to start a non-root client
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	sock := filepath.Join(dir, "grant", SocketName)
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(filepath.Dir(sock), 0o755)
	go Serve(ln, Grant{Disk: "/dev/null", Partition: 1, Dir: dir}, testLog{t})
	// The test binary must be reachable by the unprivileged user.
	bin := filepath.Join(dir, "grow.test")
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, exe, 0o755)
	cmd := exec.Command(bin, "-test.run=^TestGrantRootOnly$")
	cmd.Env = append(os.Environ(), "GROW_TEST_REQUEST="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		t.Fatal("a non-root client was granted the data disk")
	}
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	// Root is served.
	target, err := Request(sock)
	if err != nil {
		t.Fatal(err)
	}
	target.Close()
}

func TestRequestWithoutServer(t *testing.T) {
	_, err := Request(filepath.Join(t.TempDir(), SocketName))
	if !errors.Is(err, ErrNoGrant) {
		t.Errorf("got %v, want ErrNoGrant", err)
	}
}

type lines []string

func (l *lines) Printf(format string, args ...any) { *l = append(*l, fmt.Sprintf(format, args...)) }

// On a RAM-only node (nobody serves the grant socket) Watch says so once
// and returns, long before its interval or its context end.
func TestWatchReturnsWithoutDataPartition(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got lines
	done := make(chan struct{})
	go func() {
		Watch(ctx, filepath.Join(t.TempDir(), SocketName), time.Hour, &got)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch still running without a data partition")
	}
	want := lines{"grow: no data partition on this node (RAM-only): nothing to grow"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}
