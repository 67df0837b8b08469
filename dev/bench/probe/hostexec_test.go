package probe

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTimeExecsStartsEachProbeRunsTimesInRoot(t *testing.T) {
	var calls [][]string
	start := func(root string, args []string) error {
		if root != "/host" {
			t.Errorf("started in %q, want /host", root)
		}
		calls = append(calls, args)
		return nil
	}
	probes := []ExecProbe{{"a", []string{"/bin/a", "-v"}}, {"b", []string{"/bin/b"}}}
	got, err := TimeExecs("/host", probes, 3, start)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"/bin/a", "-v"}, {"/bin/a", "-v"}, {"/bin/a", "-v"}, {"/bin/b"}, {"/bin/b"}, {"/bin/b"}}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" || got[0].Runs != 3 {
		t.Errorf("TimeExecs = %+v, want a and b with 3 runs each", got)
	}
	for _, e := range got {
		if e.MedianMS < 0 {
			t.Errorf("%s: median %v ms, want >= 0", e.Name, e.MedianMS)
		}
	}
}

func TestTimeExecsNamesTheProgramThatCannotStart(t *testing.T) {
	missing := errors.New("no such file")
	start := func(root string, args []string) error {
		if args[0] == "/bin/b" {
			return missing
		}
		return nil
	}
	_, err := TimeExecs("/host", []ExecProbe{{"a", []string{"/bin/a"}}, {"b", []string{"/bin/b"}}}, 2, start)
	if !errors.Is(err, missing) {
		t.Fatalf("err = %v, want it to wrap %v", err, missing)
	}
	if want := "start /bin/b in /host: no such file"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{4}, 4}, {[]float64{1, 2, 9}, 2}, {[]float64{1, 2, 4, 9}, 3}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestCopyRuncCopiesAndRemoves(t *testing.T) {
	root := t.TempDir()
	write(t, root, "bin/runc", "runc binary", 0o500)
	write(t, root, "opt/cni/bin/bridge", "plugin", 0o500)
	remove, err := CopyRunc(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, RuncCopy))
	if err != nil || string(got) != "runc binary" {
		t.Fatalf("copy = %q, %v; want the binary's bytes", got, err)
	}
	remove()
	if _, err := os.Stat(filepath.Join(root, RuncCopy)); !os.IsNotExist(err) {
		t.Errorf("after remove, %s: %v, want it gone", RuncCopy, err)
	}
	if _, err := os.Stat(filepath.Join(root, "opt/cni/bin/bridge")); err != nil {
		t.Errorf("remove took the plugins with it: %v", err)
	}
	if _, err := CopyRunc(t.TempDir()); err == nil {
		t.Error("CopyRunc of a root without /bin/runc: no error")
	}
}
