package seed

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tool finds a program `make deps` installs.
func tool(t *testing.T, name string) {
	if _, err := exec.LookPath(name); err != nil {
		if testing.Short() {
			t.Skipf("%s is not installed (make deps installs it)", name)
		}
		t.Fatalf("%s is not installed: run make deps", name)
	}
}

func run(t *testing.T, args ...string) {
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// volumes makes seed volumes the way their users do: mkfs.vfat and
// mcopy (cloud-localds, Proxmox), xorriso (genisoimage's options).
func volumes(t *testing.T) (dir string) {
	tool(t, "mkfs.vfat")
	tool(t, "mcopy")
	tool(t, "xorriso")
	dir = t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "user-data"), []byte("# empty\n"), 0o644)
	os.WriteFile(filepath.Join(src, "meta-data"), []byte("instance-id: i-1\nlocal-hostname: n1\n"), 0o644)
	run(t, "mkfs.vfat", "-C", "-n", "CIDATA", filepath.Join(dir, "fat16"), "2048")
	run(t, "mcopy", "-i", filepath.Join(dir, "fat16"), filepath.Join(src, "user-data"), filepath.Join(src, "meta-data"), "::")
	f, _ := os.Create(filepath.Join(dir, "fat32"))
	f.Truncate(40 << 20)
	f.Close()
	run(t, "mkfs.vfat", "-F", "32", "-n", "config-2", filepath.Join(dir, "fat32"))
	run(t, "xorriso", "-as", "mkisofs", "-quiet", "-o", filepath.Join(dir, "iso"), "-V", "cidata", "-J", "-r", src)
	run(t, "mkfs.vfat", "-C", "-n", "OTHER", filepath.Join(dir, "other"), "2048")
	return dir
}

func TestLabel(t *testing.T) {
	dir := volumes(t)
	for name, want := range map[string][2]string{
		"fat16": {"CIDATA", "vfat"}, "fat32": {"config-2", "vfat"}, "iso": {"cidata", "iso9660"}, "other": {"OTHER", "vfat"},
	} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		label, fsType := Label(f)
		f.Close()
		if label != want[0] || fsType != want[1] {
			t.Errorf("%s: Label = %q %q, want %q %q", name, label, fsType, want[0], want[1])
		}
	}
	if label, fsType := Label(io.NewSectionReader(zero{}, 0, 1<<20)); label != "" || fsType != "" {
		t.Errorf("blank disk: Label = %q %q, want none", label, fsType)
	}
}

type zero struct{}

func (zero) ReadAt(p []byte, _ int64) (int, error) { clear(p); return len(p), nil }

func TestFind(t *testing.T) {
	dir := volumes(t)
	open := func(name string) (io.ReaderAt, io.Closer, error) {
		f, err := os.Open(filepath.Join(dir, name))
		return f, f, err
	}
	for _, tc := range []struct {
		devices []string
		want    Volume
		err     error
	}{
		{[]string{"other"}, Volume{}, ErrNone},
		{[]string{"other", "iso", "loop0"}, Volume{Device: "/dev/iso", Kind: NoCloud, FS: "iso9660", Label: "cidata"}, nil},
		{[]string{"fat32"}, Volume{Device: "/dev/fat32", Kind: ConfigDrive, FS: "vfat", Label: "config-2"}, nil},
		{[]string{"iso", "fat16"}, Volume{}, ErrTwo},
	} {
		sys := t.TempDir()
		for _, d := range tc.devices {
			os.Mkdir(filepath.Join(sys, d), 0o755)
		}
		got, err := Find(sys, open)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("Find(%v) = %+v, %v; want %+v, %v", tc.devices, got, err, tc.want, tc.err)
		}
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755)
		os.WriteFile(filepath.Join(dir, rel), []byte(s), 0o644)
	}
	write("user-data", "doc")
	write("meta-data", "instance-id: i-7\nlocal-hostname: node-7\n")
	write("openstack/latest/user_data", "doc2")
	write("openstack/latest/meta_data.json", `{"uuid": "u-1", "hostname": "node-8.novalocal"}`)
	got, err := Read(dir, NoCloud)
	if want := (Seed{UserData: []byte("doc"), InstanceID: "i-7", Hostname: "node-7"}); err != nil || !cmp.Equal(got, want) {
		t.Errorf("NoCloud: %+v, %v; want %+v", got, err, want)
	}
	got, err = Read(dir, ConfigDrive)
	if want := (Seed{UserData: []byte("doc2"), InstanceID: "u-1", Hostname: "node-8.novalocal"}); err != nil || !cmp.Equal(got, want) {
		t.Errorf("config drive: %+v, %v; want %+v", got, err, want)
	}
	write("user-data", string(make([]byte, 1<<20+1)))
	if _, err := Read(dir, NoCloud); err == nil {
		t.Errorf("a user-data over 1 MiB was read")
	}
	os.Remove(filepath.Join(dir, "user-data"))
	if _, err := Read(dir, NoCloud); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no user-data: %v, want not-exist", err)
	}
}
