// The layout test: the folders say where code runs, and this test holds
// the code to them. It also writes the package map in
// docs/architecture.md (UPDATE_DOCS=1 go test -run TestLayout .).
package kios_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

const module = "kios.dev/kios"

// The programs by where they run.
var (
	nodeCmds = []string{"init", "initramfs-init", "system", "cni-installer", "pause", "demo"}
	hostCmds = []string{"kios"}
)

// Dependencies the node's programs never link: the API client (PID 1
// asks the API server one question over plain HTTPS) and the host's and
// development tools' heavy libraries.
var nodeForbidden = []string{"k8s.io/api/", "k8s.io/client-go/", "k8s.io/kubectl/", "gonum.org/", "github.com/onsi/", "k8s.io/kubernetes/", "github.com/spf13/cobra"}

// Dependencies the user's kios never links: development tooling's.
var hostForbidden = []string{"gonum.org/", "github.com/onsi/", "k8s.io/kubernetes/"}

type pkg struct {
	Path, Doc string
	Imports   []string
}

// listed keeps go list's answers: the layout check and the package map
// ask the same questions.
var listed sync.Map

func goList(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	key := dir + "\x00" + strings.Join(args, "\x00")
	if v, ok := listed.Load(key); ok {
		return v.([]string)
	}
	// -buildvcs=false: the checkout may belong to another user, whose
	// repository git will not read.
	cmd := exec.Command("go", append([]string{"list", "-buildvcs=false"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	listed.Store(key, lines)
	return lines
}

func packages(t *testing.T, dir string) []pkg {
	var out []pkg
	for _, l := range goList(t, dir, "-f", "{{.ImportPath}}\t{{.Doc}}\t{{join .Imports \" \"}}", "./...") {
		f := strings.SplitN(l, "\t", 3)
		if len(f) != 3 {
			t.Fatalf("go list line %q", l)
		}
		out = append(out, pkg{Path: f[0], Doc: f[1], Imports: strings.Fields(f[2])})
	}
	return out
}

// group is where a package of the root module runs, from its folder.
func group(path string) string {
	rel := strings.TrimPrefix(path, module+"/")
	switch {
	case strings.HasPrefix(rel, "internal/node/"):
		return "node"
	case strings.HasPrefix(rel, "internal/host/"):
		return "host"
	case strings.HasPrefix(rel, "internal/shared/"), rel == "components":
		// components embeds versions.env, the pins, which go:embed
		// reaches only from beside it.
		return "shared"
	case strings.HasPrefix(rel, "cmd/"):
		return "cmd"
	case strings.HasPrefix(rel, "dev/"):
		return "dev"
	case rel == "docs" || path == module:
		return "test"
	}
	return ""
}

func TestLayout(t *testing.T) {
	pkgs := packages(t, ".")
	for _, p := range pkgs {
		g := group(p.Path)
		if g == "" {
			t.Errorf("%s is outside the layout: code goes under internal/node (runs on the node), internal/host (the kios command), internal/shared (both), cmd/ or dev/", p.Path)
			continue
		}
		for _, imp := range p.Imports {
			ig := group(imp)
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			switch {
			case ig == "dev":
				t.Errorf("%s imports %s: development code stays in the dev module", p.Path, imp)
			case g == "node" && ig == "host", g == "host" && ig == "node":
				t.Errorf("%s (%s) imports %s (%s): node and host code share only internal/shared", p.Path, g, imp, ig)
			case g == "shared" && (ig == "node" || ig == "host"):
				t.Errorf("%s (shared) imports %s (%s): shared packages depend on shared ones only", p.Path, imp, ig)
			}
		}
	}
	cmds, err := filepath.Glob("cmd/*")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, c := range append(append([]string{}, nodeCmds...), hostCmds...) {
		known[c] = true
	}
	for _, c := range cmds {
		if !known[filepath.Base(c)] {
			t.Errorf("%s is neither a node program nor a host program: add it to nodeCmds or hostCmds in layout_test.go", c)
		}
	}
	for _, c := range nodeCmds {
		checkDeps(t, c, "node", nodeForbidden)
	}
	for _, c := range hostCmds {
		checkDeps(t, c, "host", hostForbidden)
	}
}

func checkDeps(t *testing.T, cmd, side string, forbidden []string) {
	t.Helper()
	for _, d := range goList(t, ".", "-deps", "./cmd/"+cmd) {
		g := group(d)
		if strings.HasPrefix(d, module+"/") && (g == "dev" || (side == "node" && g == "host") || (side == "host" && g == "node")) {
			t.Errorf("cmd/%s (a %s program) links %s", cmd, side, d)
		}
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("cmd/%s (a %s program) links %s", cmd, side, d)
				break
			}
		}
	}
}

// TestArchitectureDoc checks the package map in docs/architecture.md
// against the code.
func TestArchitectureDoc(t *testing.T) {
	const doc = "docs/architecture.md"
	const begin, end = "<!-- package map: generated by layout_test.go (UPDATE_DOCS=1 go test -run TestArchitectureDoc .) -->\n", "<!-- end of package map -->\n"
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(b, []byte(begin)), bytes.Index(b, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("%s has no package map between %q and %q", doc, begin, end)
	}
	want := packageMap(t)
	got := string(b[i+len(begin) : j])
	if got == want {
		return
	}
	if os.Getenv("UPDATE_DOCS") == "1" {
		nb := append(append(append([]byte{}, b[:i+len(begin)]...), want...), b[j:]...)
		if err := os.WriteFile(doc, nb, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's package map is out of date: run UPDATE_DOCS=1 go test -run TestArchitectureDoc . and commit the result", doc)
}

func packageMap(t *testing.T) string {
	t.Helper()
	linkedBy := map[string][]string{}
	for _, c := range append(append([]string{}, nodeCmds...), hostCmds...) {
		for _, d := range goList(t, ".", "-deps", "./cmd/"+c) {
			linkedBy[d] = append(linkedBy[d], c)
		}
	}
	pkgs := packages(t, ".")
	if _, err := os.Stat("dev/go.mod"); err == nil {
		pkgs = append(pkgs, packages(t, "dev")...)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Path < pkgs[j].Path })
	var b strings.Builder
	for _, sec := range []struct{ group, title string }{
		{"cmd", "Programs (`cmd/`)"},
		{"node", "Runs on the node (`internal/node/`)"},
		{"shared", "Shared by the node and the `kios` command (`internal/shared/`)"},
		{"host", "The `kios` command (`internal/host/`)"},
		{"dev", "Development tooling (`dev/`, its own module)"},
	} {
		fmt.Fprintf(&b, "\n### %s\n\n| package | what it is | linked into |\n|---|---|---|\n", sec.title)
		for _, p := range pkgs {
			if group(p.Path) != sec.group {
				continue
			}
			by := strings.Join(linkedBy[p.Path], ", ")
			if sec.group == "cmd" || sec.group == "dev" {
				by = "-"
				if len(linkedBy[p.Path]) > 0 {
					by = strings.Join(linkedBy[p.Path], ", ")
				}
			}
			if by == "" {
				by = "tests only"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", strings.TrimPrefix(p.Path, module+"/"), strings.ReplaceAll(p.Doc, "|", `\|`), by)
		}
	}
	b.WriteString("\n")
	return b.String()
}
