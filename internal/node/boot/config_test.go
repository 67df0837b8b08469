package boot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kios.dev/kios/internal/node/supervise"
	"kios.dev/kios/internal/shared/configsock"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/nodeconfig"
)

// What a network source answers is applied unless a source before it
// answered; a bad answer changes nothing; the hostname follows and the
// kubelet is asked to restart.
func TestApplyConfigOrder(t *testing.T) {
	root := t.TempDir()
	base, err := os.ReadFile("../../host/image/rootfs/etc/kubernetes/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "etc/kubernetes/manifests"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/kubernetes/config.yaml"), base, 0o644)
	var named []string
	log := &eventLog{}
	n := &Node{Log: log, ConfigRoot: root, Sup: supervise.New(nil, supervise.Backoff{}, log, nil),
		SetHostname: func(b []byte) error { named = append(named, string(b)); return nil }}
	pod := func(name string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec: {containers: [{name: a, image: x}]}\n"
	}
	manifest := func(name string) string {
		return filepath.Join(root, "etc/kubernetes/manifests/nodeconfig.default."+name+".yaml")
	}
	n.cfg.source = nodeconfig.SourceVolume // what the boot step applied

	res, err := n.ApplyConfig(configsock.Request{Source: nodeconfig.SourceMetadata, Document: pod("from-imds")})
	if err != nil || res.Applied || !strings.Contains(res.Reason, "the volume configuration comes first") {
		t.Errorf("metadata after a volume: %+v, %v; want not applied, the volume first", res, err)
	}
	if _, err := os.Stat(manifest("from-imds")); !os.IsNotExist(err) {
		t.Errorf("a configuration not applied wrote its pod: %v", err)
	}

	_, err = n.ApplyConfig(configsock.Request{Source: nodeconfig.SourceURL, Document: "kind: Nope\n"})
	if err == nil || len(log.find(events.ConfigRefused.With("source", "url"))) != 1 {
		t.Errorf("bad document: err %v, events %v", err, log.lines)
	}

	doc := "apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\nhostname: url-node\n---\n" + pod("from-url")
	res, err = n.ApplyConfig(configsock.Request{Source: nodeconfig.SourceURL, Document: doc})
	if err != nil || !res.Applied {
		t.Fatalf("url after a volume: %+v, %v; want applied", res, err)
	}
	if _, err := os.Stat(manifest("from-url")); err != nil {
		t.Errorf("the URL's pod: %v", err)
	}
	if n.cfg.source != nodeconfig.SourceURL || strings.Join(named, ",") != "url-node" {
		t.Errorf("source %s, hostnames set %v; want url, [url-node]", n.cfg.source, named)
	}
	if len(log.find(events.ConfigRefused.Where("a kubelet restart", func(e events.Event) bool {
		return e.Get("source") == "url" && strings.Contains(e.Get("err"), "restart the kubelet")
	}))) != 1 {
		t.Errorf("the kubelet was not asked to restart for its new name: %v", log.lines)
	}

	if _, err := n.ApplyConfig(configsock.Request{Source: nodeconfig.SourceVolume, Document: pod("x")}); err == nil {
		t.Errorf("the socket accepted a local source")
	}
}

// A source that did not answer is logged by PID 1, with the pod's
// reason, and changes nothing.
func TestApplyConfigFailedSource(t *testing.T) {
	log := &eventLog{}
	n := &Node{Log: log, ConfigRoot: t.TempDir()}
	res, err := n.ApplyConfig(configsock.Request{Source: nodeconfig.SourceURL, Failed: "http://10.0.0.1/n.yaml?...: 8 tries: answered 500"})
	if err != nil || res.Applied {
		t.Errorf("failure report: %+v, %v", res, err)
	}
	e := log.find(events.ConfigRefused.With("source", "url"))
	if len(e) != 1 || !strings.Contains(e[0].Get("err"), "answered 500") {
		t.Errorf("events %v, want one config-refused naming the pod's reason", log.lines)
	}
	if n.cfg.source != "" {
		t.Errorf("a failure applied source %q", n.cfg.source)
	}
}
