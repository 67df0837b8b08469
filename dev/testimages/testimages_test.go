package testimages

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type header struct {
	Name string
	Mode int64
	Link string
}

func readLayer(t *testing.T, data []byte) []header {
	t.Helper()
	var got []header
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, header{h.Name, h.Mode, h.Linkname})
	}
}

func TestTreeWritesParentsFirstAndKeepsModes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nnp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := newTree()
	tr.copy("usr/local/bin/nnp", fs.ModeSetuid|0o755, filepath.Join(dir, "nnp"))
	tr.symlink("bin/sh", "/bin/busybox")
	tr.dir("tmp", fs.ModeSticky|0o777)
	data, err := tr.tar()
	if err != nil {
		t.Fatal(err)
	}
	want := []header{
		{"bin/", 0o755, ""},
		{"bin/sh", 0o777, "/bin/busybox"},
		{"tmp/", 0o1777, ""},
		{"usr/", 0o755, ""},
		{"usr/local/", 0o755, ""},
		{"usr/local/bin/", 0o755, ""},
		{"usr/local/bin/nnp", 0o4755, ""},
	}
	if d := cmp.Diff(want, readLayer(t, data)); d != "" {
		t.Errorf("layer (-want +got):\n%s", d)
	}
}

func TestTreeOverlayLeavesDocsOut(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"usr/sbin/nginx", "usr/share/doc/nginx/copyright", "etc/nginx/nginx.conf"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("nginx", filepath.Join(root, "usr/sbin/nginx-link")); err != nil {
		t.Fatal(err)
	}
	tr := newTree()
	if err := tr.overlay(root); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.t.Get("usr/share/doc/nginx/copyright"); ok {
		t.Error("the package's documentation is in the image")
	}
	if e, ok := tr.t.Get("usr/sbin/nginx-link"); !ok || e.Link != "nginx" {
		t.Errorf("usr/sbin/nginx-link: got %+v, want a link to nginx", e)
	}
	if e, ok := tr.t.Get("etc/nginx/nginx.conf"); !ok || e.Src == "" {
		t.Errorf("etc/nginx/nginx.conf: got %+v, want the package's file", e)
	}
}

func TestMissingInputsAreNamed(t *testing.T) {
	err := Inputs{E2E: "/nonexistent/e2e", Debs: "/nonexistent/debs", Pause: "/nonexistent/pause", Busybox: "/nonexistent/busybox"}.Check()
	if err == nil {
		t.Fatal("Check with no inputs: got nil")
	}
	for _, want := range []string{"/nonexistent/e2e/agnhost", "/nonexistent/busybox", "/nonexistent/pause", "/nonexistent/debs/nginx"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestArchiveNames(t *testing.T) {
	seen := map[string]string{}
	for _, im := range Catalog {
		n := im.ArchiveName()
		if other, dup := seen[n]; dup {
			t.Errorf("%s and %s are both written to %s", other, im.Name, n)
		}
		seen[n] = im.Name
	}
	if got := Catalog[1].ArchiveName(); got != "agnhost-2.59.tar" {
		t.Errorf("agnhost's archive: got %s, want agnhost-2.59.tar", got)
	}
}

// The busybox image lays out what upstream's has where the tests look:
// every applet in /bin as well as at the path busybox lists; agnhost
// adds bash.
func TestBusyboxLayout(t *testing.T) {
	debs := t.TempDir()
	bb := filepath.Join(debs, "busybox")
	bash := filepath.Join(debs, "bash-static", "bin", "bash-static")
	writeFiles(t, map[string]string{
		// busybox --list-full, as busybox prints it.
		bb:   "#!/bin/sh\nprintf 'bin/busybox\\nbin/sh\\nsbin/sysctl\\nusr/bin/env\\n'\n",
		bash: "bash",
	})
	tr := newTree()
	if err := withBusybox(agnhostBash)(Inputs{Debs: debs, Busybox: bb}, tr); err != nil {
		t.Fatal(err)
	}
	type entry struct{ Link, Src string }
	got := map[string]entry{}
	for _, p := range []string{"bin/sysctl", "sbin/sysctl", "bin/env", "usr/bin/env", "bin/sh", "bin/bash"} {
		e, ok := tr.t.Get(p)
		if !ok {
			t.Errorf("/%s is missing", p)
			continue
		}
		got[p] = entry{e.Link, e.Src}
	}
	want := map[string]entry{
		"bin/sysctl":  {Link: "/bin/busybox"},
		"sbin/sysctl": {Link: "/bin/busybox"},
		"bin/env":     {Link: "/bin/busybox"},
		"usr/bin/env": {Link: "/bin/busybox"},
		"bin/sh":      {Link: "/bin/busybox"},
		"bin/bash":    {Src: bash},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("busybox image (-want +got):\n%s", d)
	}
}

// In agnhost, the tools the tests run are found first along the image's
// PATH, ahead of busybox's applets of the same name (busybox's nc is in
// /usr/bin, which PATH lists before /bin).
func TestAgnhostPathFindsTools(t *testing.T) {
	root := t.TempDir()
	in := Inputs{E2E: filepath.Join(root, "e2e"), Debs: filepath.Join(root, "debs"), Pause: filepath.Join(root, "pause"), Busybox: filepath.Join(root, "busybox")}
	files := map[string]string{
		in.Busybox: "#!/bin/sh\nprintf 'bin/busybox\\nbin/sh\\nusr/bin/nc\\nbin/ls\\n'\n",
		filepath.Join(in.Debs, "bash-static", "bin", "bash-static"):   "bash",
		filepath.Join(in.Debs, "curl", "usr", "bin", "curl"):          "curl",
		filepath.Join(in.Debs, "netcat-openbsd", "bin", "nc.openbsd"): "nc",
		filepath.Join(in.E2E, "agnhost"):                              "agnhost",
		filepath.Join(in.E2E, "agnhost-files", "localhost.crt"):       "crt",
		filepath.Join(in.E2E, "agnhost-files", "localhost.key"):       "key",
		in.Pause: "pause",
	}
	for _, p := range agnhostPackages {
		if err := os.MkdirAll(filepath.Join(in.Debs, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, files)
	tr := newTree()
	if err := withBusybox(agnhost)(in, tr); err != nil {
		t.Fatal(err)
	}
	// which finds name along PATH as execvp does, following links.
	which := func(name string) string {
		for _, dir := range []string{"usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"} {
			p := dir + "/" + name
			for hops := 0; hops < 10; hops++ {
				e, ok := tr.t.Get(p)
				if !ok {
					break
				}
				if e.Link == "" {
					return p
				}
				if strings.HasPrefix(e.Link, "/") {
					p = strings.TrimPrefix(e.Link, "/")
				} else {
					p = path.Join(path.Dir(p), e.Link)
				}
			}
		}
		return ""
	}
	got := map[string]string{}
	for _, n := range []string{"sh", "bash", "nc", "curl", "ls"} {
		got[n] = which(n)
	}
	want := map[string]string{"sh": "bin/busybox", "bash": "bin/bash", "nc": "bin/nc.openbsd", "curl": "usr/bin/curl", "ls": "bin/busybox"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("what agnhost runs for each name (-want +got):\n%s", d)
	}
}

// writeFiles writes each file (path -> content), executable, making its
// directory.
func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
