package nodeconfig

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// A hardening rule: one CIS Kubernetes Benchmark item (section 4.2, the
// kubelet) that kiOS's image enforces, or kiOS's own.
type rule struct {
	item string
	path []string
	want string
	ok   func(v any) bool
}

func isFalse(v any) bool { b, ok := v.(bool); return ok && !b }
func isTrue(v any) bool  { b, ok := v.(bool); return ok && b }

// strongCiphers are the suites the image allows (CIS 4.2.13).
var strongCiphers = map[string]bool{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": true, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": true,
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": true, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": true,
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": true, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": true,
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": true, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": true,
	"TLS_AES_128_GCM_SHA256": true, "TLS_AES_256_GCM_SHA384": true, "TLS_CHACHA20_POLY1305_SHA256": true,
}

var hardening = []rule{
	{"CIS 4.2.1", []string{"authentication", "anonymous", "enabled"}, "false", isFalse},
	{"CIS 4.2.1", []string{"authentication", "webhook", "enabled"}, "true", isTrue},
	{"CIS 4.2.2", []string{"authorization", "mode"}, "Webhook", func(v any) bool { return v == "Webhook" }},
	{"CIS 4.2.3", []string{"authentication", "x509", "clientCAFile"}, "a client CA file", func(v any) bool { s, _ := v.(string); return s != "" }},
	{"CIS 4.2.4", []string{"readOnlyPort"}, "0", func(v any) bool { return fmt.Sprint(v) == "0" }},
	{"CIS 4.2.5", []string{"streamingConnectionIdleTimeout"}, "a non-zero duration", func(v any) bool {
		s, _ := v.(string)
		d, err := time.ParseDuration(s)
		return err == nil && d > 0
	}},
	{"CIS 4.2.6", []string{"protectKernelDefaults"}, "true", isTrue},
	{"CIS 4.2.9", []string{"eventRecordQPS"}, "a positive limit", func(v any) bool {
		switch n := v.(type) {
		case json.Number: // a document's
			f, err := n.Float64()
			return err == nil && f > 0
		case float64: // a running kubelet's /configz
			return n > 0
		}
		return false
	}},
	{"CIS 4.2.11", []string{"rotateCertificates"}, "true", isTrue},
	{"CIS 4.2.12", []string{"serverTLSBootstrap"}, "true", isTrue},
	{"CIS 4.2.13", []string{"tlsCipherSuites"}, "strong suites only", func(v any) bool {
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return false
		}
		for _, s := range list {
			if name, _ := s.(string); !strongCiphers[name] {
				return false
			}
		}
		return true
	}},
	{"seccomp", []string{"seccompDefault"}, "true", isTrue},
}

// Weakens lists each field of a KubeletConfiguration that would undo a
// hardening item of the image. Fields left out keep the image's value.
func Weakens(kc map[string]any) []error {
	var errs []error
	for _, r := range hardening {
		if v, set := lookup(kc, r.path); set && !r.ok(v) {
			errs = append(errs, fmt.Errorf("%s: weakens %s (want %s)", strings.Join(r.path, "."), r.item, r.want))
		}
	}
	return errs
}

// Hardened lists each hardening item a complete kubelet configuration
// (the image's, merged with a document's, or a running kubelet's
// /configz) misses: the VM tests check the running kubelet with it.
func Hardened(kc map[string]any) []error {
	var errs []error
	for _, r := range hardening {
		if v, _ := lookup(kc, r.path); !r.ok(v) {
			errs = append(errs, fmt.Errorf("%s: %s = %v, want %s", r.item, strings.Join(r.path, "."), v, r.want))
		}
	}
	return errs
}

func lookup(m map[string]any, path []string) (any, bool) {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// DecodeKubelet reads a KubeletConfiguration file (YAML or JSON) into
// its fields, numbers as json.Number.
func DecodeKubelet(b []byte) (map[string]any, error) {
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := decodeJSON(js, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// MergeKubelet lays over on base as the kubelet lays a drop-in over its
// configuration: objects merge field by field, anything else replaces.
func MergeKubelet(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = MergeKubelet(bm, om)
			continue
		}
		out[k] = v
	}
	return out
}
