package containerd

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/primed"
)

func TestImportOrderPutsSandboxFirst(t *testing.T) {
	idx := []primed.Entry{{File: "dhcp"}, {File: "ntp"}, {File: "pause", Names: []string{SandboxImage}}, {File: "web"}}
	var got []string
	for _, p := range importOrder(idx, SandboxImage) {
		got = append(got, p.File)
	}
	if diff := cmp.Diff([]string{"pause", "dhcp", "ntp", "web"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestContainerdConfigPinsSandboxImage(t *testing.T) {
	b, err := os.ReadFile("../../host/image/rootfs/etc/containerd/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `sandbox = "`+SandboxImage+`"`) {
		t.Errorf("config.toml does not pin %s as the sandbox image", SandboxImage)
	}
}
