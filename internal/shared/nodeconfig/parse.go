package nodeconfig

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	"kios.dev/kios/internal/shared/configsrc"

	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"kios.dev/kios/internal/shared/joinspec"
	"kios.dev/kios/internal/shared/netconf"
)

// MaxSize is the largest document read from any source.
const MaxSize = configsrc.MaxSize

// Sentinel errors callers branch on.
var (
	ErrTooLarge = configsrc.ErrTooLarge
	ErrInvalid  = errors.New("invalid node configuration")
)

// Document is a parsed, checked configuration.
type Document struct {
	Pods []Pod
	// Kubelet holds the KubeletConfiguration's fields (apiVersion and
	// kind removed), merged over the image's at apply time.
	Kubelet map[string]any
	// Node is the NodeConfig; nil when the document has none.
	Node *NodeConfig
}

// Pod is one static pod.
type Pod struct {
	Namespace, Name string
	JSON            []byte // the Pod as given, in JSON
}

// Error is one problem, named by the document (1-based, in stream
// order), its kind and name, and the field.
type Error struct {
	Doc   int
	Kind  string
	Name  string
	Field string
	Msg   string
}

func (e *Error) Error() string {
	what := fmt.Sprintf("document %d", e.Doc)
	switch {
	case e.Kind != "" && e.Name != "":
		what += fmt.Sprintf(" (%s %s)", e.Kind, e.Name)
	case e.Kind != "":
		what += fmt.Sprintf(" (%s)", e.Kind)
	}
	if e.Field != "" {
		return what + ": " + e.Field + ": " + e.Msg
	}
	return what + ": " + e.Msg
}

func (e *Error) Unwrap() error { return ErrInvalid }

// Read reads a document of at most MaxSize bytes from r and parses it.
func Read(r io.Reader) (*Document, []byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read node configuration: %w", err)
	}
	if len(b) > MaxSize {
		return nil, nil, ErrTooLarge
	}
	d, err := Parse(b)
	return d, b, err
}

// Parse checks a configuration document. The error lists every problem
// found (errors.Join of *Error), never a secret's value.
func Parse(data []byte) (*Document, error) {
	if len(data) > MaxSize {
		return nil, ErrTooLarge
	}
	// YAML stops reading at a NUL byte: a binary file (an image archive
	// given by mistake) would pass as an empty configuration.
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, &Error{Doc: 1, Msg: fmt.Sprintf("not YAML: a NUL byte at offset %d (a binary file?)", i)}
	}
	d := &Document{}
	var errs []error
	seenPods := map[string]int{}
	kubeletDoc, nodeDoc := 0, 0
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		raw, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, &Error{Doc: n, Msg: "not YAML: " + err.Error()})
			break
		}
		js, err := yaml.YAMLToJSONStrict(raw)
		if err != nil {
			errs = append(errs, &Error{Doc: n, Msg: "not YAML: " + err.Error()})
			continue
		}
		if t := bytes.TrimSpace(js); bytes.Equal(t, []byte("null")) || len(t) == 0 {
			n-- // an empty document (comments, a trailing ---) is not counted
			continue
		}
		var obj map[string]any
		if err := decodeJSON(js, &obj); err != nil {
			errs = append(errs, &Error{Doc: n, Msg: "want an object with apiVersion and kind"})
			continue
		}
		apiVersion, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		fail := func(name string, list []error) {
			for _, e := range list {
				field, msg, ok := strings.Cut(e.Error(), ": ")
				if !ok {
					field, msg = "", e.Error()
				}
				errs = append(errs, &Error{Doc: n, Kind: kind, Name: name, Field: field, Msg: msg})
			}
		}
		switch {
		case kind == "Pod" && apiVersion == "v1":
			p, perrs := checkPod(obj, js)
			if prev, dup := seenPods[p.Namespace+"/"+p.Name]; dup && p.Name != "" {
				perrs = append(perrs, fmt.Errorf("metadata.name: pod %s/%s is also document %d", p.Namespace, p.Name, prev))
			}
			seenPods[p.Namespace+"/"+p.Name] = n
			fail(p.Name, perrs)
			if len(perrs) == 0 {
				d.Pods = append(d.Pods, p)
			}
		case kind == KubeletKind && apiVersion == KubeletAPIVersion:
			if kubeletDoc != 0 {
				fail("", []error{fmt.Errorf("kind: a second KubeletConfiguration (the first is document %d)", kubeletDoc)})
				continue
			}
			kubeletDoc = n
			kerrs := checkKubelet(obj)
			fail("", kerrs)
			if len(kerrs) == 0 {
				delete(obj, "apiVersion")
				delete(obj, "kind")
				d.Kubelet = obj
			}
		case kind == Kind && apiVersion == APIVersion:
			if nodeDoc != 0 {
				fail("", []error{fmt.Errorf("kind: a second NodeConfig (the first is document %d)", nodeDoc)})
				continue
			}
			nodeDoc = n
			nc, nerrs := checkNode(obj, js)
			fail("", nerrs)
			if len(nerrs) == 0 {
				d.Node = nc
			}
		case kind == Kind && strings.HasPrefix(apiVersion, Group+"/"):
			fail("", []error{fmt.Errorf("apiVersion: this kiOS reads %s, not %s", APIVersion, apiVersion)})
		case kind == KubeletKind:
			fail("", []error{fmt.Errorf("apiVersion: want %s, got %q", KubeletAPIVersion, apiVersion)})
		case kind == "Pod":
			fail("", []error{fmt.Errorf("apiVersion: want v1, got %q", apiVersion)})
		default:
			errs = append(errs, &Error{Doc: n, Kind: kind, Field: "kind",
				Msg: fmt.Sprintf("%q %q is not one of Pod (v1), %s (%s) or %s (%s)", apiVersion, kind, KubeletKind, KubeletAPIVersion, Kind, APIVersion)})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

func checkPod(obj map[string]any, js []byte) (Pod, []error) {
	p := Pod{JSON: js, Namespace: "default"}
	meta, _ := obj["metadata"].(map[string]any)
	p.Name, _ = meta["name"].(string)
	errs := checkSchema(obj, "Pod", "")
	if len(errs) > 0 {
		return p, errs
	}
	if ns, _ := meta["namespace"].(string); ns != "" {
		p.Namespace = ns
		for _, e := range validation.IsDNS1123Label(ns) {
			errs = append(errs, fmt.Errorf("metadata.namespace: %s", e))
		}
	}
	if p.Name == "" {
		errs = append(errs, fmt.Errorf("metadata.name: a static pod needs a name"))
	}
	for _, e := range validation.IsDNS1123Subdomain(p.Name) {
		if p.Name != "" {
			errs = append(errs, fmt.Errorf("metadata.name: %s", e))
		}
	}
	spec, _ := obj["spec"].(map[string]any)
	containers, _ := spec["containers"].([]any)
	if len(containers) == 0 {
		errs = append(errs, fmt.Errorf("spec.containers: at least one container is needed"))
	}
	seen := map[string]bool{}
	for _, list := range []string{"initContainers", "containers"} {
		cs, _ := spec[list].([]any)
		for i, c := range cs {
			cm, _ := c.(map[string]any)
			name, _ := cm["name"].(string)
			at := fmt.Sprintf("spec.%s[%d]", list, i)
			for _, e := range validation.IsDNS1123Label(name) {
				errs = append(errs, fmt.Errorf("%s.name: %s", at, e))
			}
			if seen[name] && name != "" {
				errs = append(errs, fmt.Errorf("%s.name: %q is used twice", at, name))
			}
			seen[name] = true
			if img, _ := cm["image"].(string); strings.TrimSpace(img) == "" {
				errs = append(errs, fmt.Errorf("%s.image: no image", at))
			}
		}
	}
	return p, errs
}

// Fields kiOS sets itself: the node's programs depend on them.
var kubeletOwned = []string{"containerRuntimeEndpoint", "staticPodPath", "cgroupDriver", "enableServer"}

func checkKubelet(obj map[string]any) []error {
	if errs := checkSchema(obj, "KubeletConfiguration", ""); len(errs) > 0 {
		return errs
	}
	var errs []error
	for _, f := range kubeletOwned {
		if _, ok := obj[f]; ok {
			errs = append(errs, fmt.Errorf("%s: set by kiOS; remove it", f))
		}
	}
	if _, ok := lookup(obj, []string{"authentication", "x509", "clientCAFile"}); ok {
		errs = append(errs, fmt.Errorf("authentication.x509.clientCAFile: set by kiOS (the cluster CA the join writes); remove it"))
	}
	return append(errs, Weakens(obj)...)
}

var (
	moduleRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	hostRE   = regexp.MustCompile(`^[a-zA-Z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9a-fA-F:.]+\](:[0-9]{1,5})?$`)
)

func checkNode(obj map[string]any, js []byte) (*NodeConfig, []error) {
	if errs := checkSchema(obj, "NodeConfig", ""); len(errs) > 0 {
		return nil, errs
	}
	var nc NodeConfig
	if err := json.Unmarshal(js, &nc); err != nil {
		return nil, []error{fmt.Errorf("(document): %w", err)}
	}
	var errs []error
	if nc.Hostname != "" {
		if err := CheckHostname(nc.Hostname); err != nil {
			errs = append(errs, fmt.Errorf("hostname: %w", err))
		}
	}
	if j := nc.Join; j != nil {
		switch {
		case j.BootstrapKubeconfig != "" && (j.APIServer != "" || j.Token != "" || len(j.CACertHashes) > 0):
			errs = append(errs, fmt.Errorf("join: give either bootstrapKubeconfig or apiServer, token and caCertHashes, not both"))
		case j.BootstrapKubeconfig != "":
			if err := checkKubeconfig(j.BootstrapKubeconfig); err != nil {
				errs = append(errs, fmt.Errorf("join.bootstrapKubeconfig: %w", err))
			}
		default:
			p := joinspec.Params{API: j.APIServer, Token: j.Token}
			if len(j.CACertHashes) > 0 {
				p.CAHash = j.CACertHashes[0]
			}
			if err := p.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("join: %w (want apiServer host:port, token abcdef.0123456789abcdef and caCertHashes [sha256:HEX])", err))
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(nc.Labels)) {
		if e := validation.IsQualifiedName(k); len(e) > 0 {
			errs = append(errs, fmt.Errorf("labels.%s: %s", k, strings.Join(e, "; ")))
		} else if err := kubeletMayLabel(k); err != nil {
			errs = append(errs, fmt.Errorf("labels.%s: %w", k, err))
		}
		if e := validation.IsValidLabelValue(nc.Labels[k]); len(e) > 0 {
			errs = append(errs, fmt.Errorf("labels.%s: value: %s", k, strings.Join(e, "; ")))
		}
	}
	for i, t := range nc.Taints {
		at := fmt.Sprintf("taints[%d]", i)
		if e := validation.IsQualifiedName(t.Key); len(e) > 0 {
			errs = append(errs, fmt.Errorf("%s.key: %s", at, strings.Join(e, "; ")))
		}
		if e := validation.IsValidLabelValue(t.Value); len(e) > 0 {
			errs = append(errs, fmt.Errorf("%s.value: %s", at, strings.Join(e, "; ")))
		}
		switch t.Effect {
		case "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			errs = append(errs, fmt.Errorf("%s.effect: want NoSchedule, PreferNoSchedule or NoExecute, got %q", at, t.Effect))
		}
	}
	for _, host := range slices.Sorted(maps.Keys(nc.RegistryMirrors)) {
		if host != "_default" && !hostRE.MatchString(host) {
			errs = append(errs, fmt.Errorf("registryMirrors.%s: want a registry host[:port] or _default", host))
		}
		if len(nc.RegistryMirrors[host]) == 0 {
			errs = append(errs, fmt.Errorf("registryMirrors.%s: no mirrors", host))
		}
		for i, m := range nc.RegistryMirrors[host] {
			if err := checkMirror(m); err != nil {
				errs = append(errs, fmt.Errorf("registryMirrors.%s[%d]: %w", host, i, err))
			}
		}
	}
	for i, s := range nc.NTPServers {
		if !hostRE.MatchString(s) {
			errs = append(errs, fmt.Errorf("ntpServers[%d]: want host or host:port, got %q", i, s))
		}
	}
	for i, m := range nc.KernelModules {
		if !moduleRE.MatchString(m) {
			errs = append(errs, fmt.Errorf("kernelModules[%d]: want a module name, got %q", i, m))
		}
	}
	for _, err := range netconf.Validate(nc.Network) {
		errs = append(errs, fmt.Errorf("network.%w", err))
	}
	return &nc, errs
}

// CheckHostname accepts what Linux and the kubelet both take as a node
// name: a lower-case DNS-1123 subdomain of at most 63 characters.
func CheckHostname(name string) error {
	if len(name) > 63 {
		return fmt.Errorf("%q is longer than 63 characters", name)
	}
	if e := validation.IsDNS1123Subdomain(name); len(e) > 0 {
		return fmt.Errorf("%q: %s", name, strings.Join(e, "; "))
	}
	return nil
}

// kubeletMayLabel refuses what the kubelet refuses in --node-labels: a
// kubernetes.io or k8s.io key outside the namespaces a node may set.
func kubeletMayLabel(key string) error {
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return nil
	}
	restricted := prefix == "kubernetes.io" || prefix == "k8s.io" ||
		strings.HasSuffix(prefix, ".kubernetes.io") || strings.HasSuffix(prefix, ".k8s.io")
	allowed := prefix == "kubelet.kubernetes.io" || strings.HasSuffix(prefix, ".kubelet.kubernetes.io") ||
		prefix == "node.kubernetes.io" || strings.HasSuffix(prefix, ".node.kubernetes.io")
	if restricted && !allowed {
		return fmt.Errorf("the kubelet may set only kubelet.kubernetes.io/ and node.kubernetes.io/ keys of the kubernetes.io and k8s.io namespaces")
	}
	return nil
}

func checkMirror(u string) error {
	rest, ok := strings.CutPrefix(u, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(u, "http://")
	}
	host, _, _ := strings.Cut(rest, "/")
	if !ok || !hostRE.MatchString(host) {
		return fmt.Errorf("want an http:// or https:// URL, got %q", u)
	}
	return nil
}

// checkKubeconfig checks that a bootstrap kubeconfig names an https
// server, carries its CA and has a user; its values are secret and
// never quoted.
func checkKubeconfig(s string) error {
	var kc struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []any `json:"users"`
	}
	if err := yaml.Unmarshal([]byte(s), &kc); err != nil {
		return fmt.Errorf("not a kubeconfig (YAML)")
	}
	if len(kc.Clusters) == 0 || !strings.HasPrefix(kc.Clusters[0].Cluster.Server, "https://") {
		return fmt.Errorf("want a cluster with an https:// server")
	}
	if _, err := KubeconfigCA(s); err != nil {
		return err
	}
	if len(kc.Users) == 0 {
		return fmt.Errorf("want a user (the bootstrap token)")
	}
	return nil
}

// KubeconfigCA is the first cluster's certificate-authority-data: the
// node writes it as the kubelet's client CA (/etc/kubernetes/pki/ca.crt),
// as the join does.
func KubeconfigCA(s string) ([]byte, error) {
	var kc struct {
		Clusters []struct {
			Cluster struct {
				CAData []byte `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
	}
	if err := yaml.Unmarshal([]byte(s), &kc); err != nil {
		return nil, fmt.Errorf("not a kubeconfig (YAML)")
	}
	if len(kc.Clusters) == 0 || len(kc.Clusters[0].Cluster.CAData) == 0 {
		return nil, fmt.Errorf("want the cluster's certificate-authority-data (the node has no other way to trust it)")
	}
	if b, _ := pem.Decode(kc.Clusters[0].Cluster.CAData); b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certificate-authority-data: want a PEM certificate")
	}
	return kc.Clusters[0].Cluster.CAData, nil
}
