package cni

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestConflist(t *testing.T) {
	b, err := Conflist("10.244.1.0/24")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Plugins []struct {
			Type string `json:"type"`
			IPAM struct {
				Ranges [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Plugins) != 2 || c.Plugins[0].Type != "bridge" || c.Plugins[0].IPAM.Ranges[0][0]["subnet"] != "10.244.1.0/24" {
		t.Errorf("conflist:\n%s", b)
	}
	for _, bad := range []string{"", "10.244.1.0", "fd00::/64", "garbage"} {
		if _, err := Conflist(bad); err == nil {
			t.Errorf("pod CIDR %q accepted", bad)
		}
	}
}

func TestInstall(t *testing.T) {
	src, bin, conf := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "net.d")
	for _, p := range Plugins {
		os.WriteFile(filepath.Join(src, p), []byte("plugin "+p), 0o500)
	}
	if err := Install(src, bin, conf, "10.244.0.0/24"); err != nil {
		t.Fatal(err)
	}
	for _, p := range Plugins {
		st, err := os.Stat(filepath.Join(bin, p))
		if err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("plugin %s: %v %v", p, err, st)
		}
	}
	if _, err := os.Stat(filepath.Join(conf, ConfName)); err != nil {
		t.Error(err)
	}
	os.Remove(filepath.Join(src, "portmap"))
	if err := Install(src, bin, conf, "10.244.0.0/24"); err == nil {
		t.Error("a missing plugin was not reported")
	}
}
