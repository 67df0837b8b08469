package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\nhostname: n1\n"), 0o644)
	os.WriteFile(bad, []byte("apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\nhostnme: n1\n"), 0o644)
	var out, errOut bytes.Buffer
	if err := Run([]string{"config", "validate", good}, &out, &errOut); err != nil {
		t.Fatalf("valid document refused: %v %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "valid: 0 pod(s), a NodeConfig (hostname n1)") {
		t.Errorf("output %q", out.String())
	}
	out.Reset()
	err := Run([]string{"config", "validate", good, bad}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 documents are not valid") {
		t.Errorf("err = %v", err)
	}
	if want := bad + ": document 1 (NodeConfig): hostnme: unknown field"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
}
