package applets

import "testing"

func TestParamsFor(t *testing.T) {
	for path, want := range map[string]string{
		"/lib/modules/6.1.0-56-amd64/kernel/drivers/net/bonding/bonding.ko": "max_bonds=0",
		"/lib/modules/6.1.0-56-amd64/kernel/drivers/net/dummy.ko.xz":        "numdummies=0",
		"/lib/modules/6.1.0-56-amd64/kernel/net/8021q/8021q.ko":             "",
		"bonding_extra.ko": "",
	} {
		if got := paramsFor(path); got != want {
			t.Errorf("paramsFor(%q) = %q, want %q", path, got, want)
		}
	}
}
