package events

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		e    Event
		want string
	}{
		{New(ContainerdReady), "event=containerd-ready"},
		{New(ServiceStarted, "name", "kubelet", "pid", 245, "restarts", 0), "event=service-started name=kubelet pid=245 restarts=0"},
		{New(KubeletRestart, "reason", "kubeconfig changed"), `event=kubelet-restart reason="kubeconfig changed"`},
		{New(UpgradeRefused, "err", errors.New(`bad "image"`)), `event=upgrade-refused err="bad \"image\""`},
		{New(BootDone, "failed", 0, "steps", ""), `event=boot-done failed=0 steps=""`},
		{New(Trial, "bless_after", 90*time.Second), "event=trial bless_after=1m30s"},
		{New(EtcFileRefused, "err", "line 1\nline 2"), `event=etc-file-refused err="line 1\nline 2"`},
		{New(ModuleFailed, "name", "a=b"), `event=module-failed name="a=b"`},
		{New(UnmountBusy, "targets", []string{"/a", "/b"}), "event=unmount-busy targets=/a,/b"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		line string
		want Event
		ok   bool
	}{
		{"[    9.4] kios: t=9.411 event=containerd-ready", Event{Name: ContainerdReady, T: 9.411}, true},
		{"kios: t=11.561 event=service-started name=kubelet pid=245 restarts=0\r",
			Event{Name: ServiceStarted, T: 11.561, Fields: []Field{{"name", "kubelet"}, {"pid", "245"}, {"restarts", "0"}}}, true},
		{`event=kubelet-mode mode=standalone held=cluster api=10.88.0.1 reason="no route to the API server yet"`,
			Event{Name: KubeletMode, T: -1, Fields: []Field{{"mode", "standalone"}, {"held", "cluster"}, {"api", "10.88.0.1"}, {"reason", "no route to the API server yet"}}}, true},
		{`kios: t=1.0 event=x b=2 a="cut short by the log...(truncated)`, Event{Name: "x", T: 1, Fields: []Field{{"b", "2"}, {"a", "cut short by the log...(truncated)"}}}, true},
		{"kios: t=1.0 event=x a=\"quoted\"\r", Event{Name: "x", T: 1, Fields: []Field{{"a", "quoted"}}}, true},
		{`kios: t=1.0 event=x =bad`, Event{}, false},
		{"kios: t=1.0 step=mounts status=ok took=0.002s", Event{}, false},
		{"prevent=1 notevent=boot", Event{}, false},
		{"kios: t=1.0 event=", Event{}, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.line)
		if ok != tt.ok {
			t.Errorf("Parse(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestMatchers(t *testing.T) {
	e, _ := Parse(`kios: t=3 event=inhibitor-taken who=kubelet what=shutdown mode=delay`)
	tests := []struct {
		m    Matcher
		want bool
	}{
		{InhibitorTaken, true},
		{InhibitorReleased, false},
		{InhibitorTaken.With("who", "kubelet", "mode", "delay"), true},
		{InhibitorTaken.With("who", "kubelet", "mode", "block"), false},
		{InhibitorTaken.With("what", "*"), true},
		{InhibitorTaken.With("missing", "*"), false},
		{InhibitorTaken.Where("who starts with k", func(e Event) bool { return e.Get("who")[0] == 'k' }), true},
		{Any(InhibitorReleased, InhibitorTaken.With("who", "kubelet")), true},
		{Any(InhibitorReleased, Boot), false},
	}
	for _, tt := range tests {
		if got := tt.m.Match(e); got != tt.want {
			t.Errorf("%s matched %v, want %v", tt.m, got, tt.want)
		}
	}
}

func TestFloat(t *testing.T) {
	e := New(PodsStopped, "how", "inhibitor", "took", "12.5s")
	if got, err := e.Float("took"); err != nil || got != 12.5 {
		t.Errorf("Float(took) = %v, %v; want 12.5", got, err)
	}
	if _, err := e.Float("how"); err == nil {
		t.Error("Float(how) of a word gave no error")
	}
	if _, err := e.Float("nope"); err == nil {
		t.Error("Float of a missing key gave no error")
	}
}

// TestAllIsWhole checks that All lists every constant of names.go once.
func TestAllIsWhole(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "names.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[Name]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			for _, v := range s.(*ast.ValueSpec).Values {
				declared[Name(v.(*ast.BasicLit).Value[1:len(v.(*ast.BasicLit).Value)-1])] = true
			}
		}
	}
	listed := map[Name]bool{}
	for _, n := range All {
		if listed[n] {
			t.Errorf("%s is listed twice in All", n)
		}
		listed[n] = true
	}
	if diff := cmp.Diff(declared, listed); diff != "" {
		t.Errorf("All and names.go differ (-declared +listed):\n%s", diff)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("reason", "a \"quoted\" value\n", "x")
	f.Add("err", "", "=")
	f.Fuzz(func(t *testing.T, k, v1, v2 string) {
		if k == "" || !validKey(k) {
			return
		}
		e := New(Trial, k, v1, "b", v2)
		got, ok := Parse("kios: t=1.5 " + e.String())
		if !ok {
			t.Fatalf("Parse(%q) failed", e.String())
		}
		e.T = 1.5
		if diff := cmp.Diff(e, got); diff != "" {
			t.Fatalf("round trip of %q (-want +got):\n%s", e.String(), diff)
		}
	})
}

func validKey(k string) bool {
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
