package lab

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A registered node system boots the nodes of a Config naming it; an
// unknown name is an error that names it and the systems there are.
func TestNodeSystems(t *testing.T) {
	var got []Config
	RegisterSystem("test-system", func(_ context.Context, c Config, _ *Env) (NodeBoot, error) {
		got = append(got, c)
		return NodeBoot{Image: "test.efi"}, nil
	})
	t.Cleanup(func() { delete(systems, "test-system") })
	c := Config{Dir: "d", Nodes: 2, System: "test-system"}
	b, err := nodeImages(context.Background(), c, &Env{})
	if err != nil || b.Image != "test.efi" {
		t.Fatalf("nodeImages = %+v, %v; want the registered system's", b, err)
	}
	if diff := cmp.Diff([]Config{c}, got); diff != "" {
		t.Errorf("the system's Config (-want +got):\n%s", diff)
	}
	_, err = nodeImages(context.Background(), Config{System: "nope"}, &Env{})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "kios, test-system") {
		t.Errorf("unknown system: got %v, want an error naming it and the registered ones", err)
	}
}
