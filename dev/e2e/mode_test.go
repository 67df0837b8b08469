package e2e

import "testing"

func TestCheckMode(t *testing.T) {
	for _, tc := range []struct {
		path, mode string
		ok         bool
	}{
		{"/bin/kubelet", "-r-x------", true},
		{"/bin/kubelet", "-r-xr-xr-x", false},
		{"/bin/mount", "Lrwxrwxrwx", true},
		{"/lib/modules/6.1/kernel/x.ko", "-r--------", true},
		{"/lib/modules/6.1/kernel/x.ko", "-r--r--r--", false},
		{"/etc/hosts", "-rw-r--r--", true},
		{"/etc/hosts", "-rw-rw-rw-", false},
		{"/etc/tool", "-rwxr-xr-x", false},
		{"/tmp", "dtrwxrwxrwx", true},
		{"/var/x", "drwxrwxrwx", false},
		{"/bin/su", "urwxr-xr-x", false},
		{"/etc", "drwxr-xr-x", true},
	} {
		if err := checkMode(tc.path, tc.mode); (err == nil) != tc.ok {
			t.Errorf("%s %s: %v", tc.path, tc.mode, err)
		}
	}
}

func TestCheckCIS(t *testing.T) {
	good := map[string]any{
		"authentication":                 map[string]any{"anonymous": map[string]any{"enabled": false}, "webhook": map[string]any{"enabled": true}, "x509": map[string]any{"clientCAFile": "/etc/kubernetes/pki/ca.crt"}},
		"authorization":                  map[string]any{"mode": "Webhook"},
		"streamingConnectionIdleTimeout": "5m0s",
		"protectKernelDefaults":          true,
		"eventRecordQPS":                 float64(5),
		"rotateCertificates":             true,
		"serverTLSBootstrap":             true,
		"seccompDefault":                 true,
		"tlsCipherSuites":                []any{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
	}
	if errs := checkCIS(good); len(errs) != 0 {
		t.Errorf("a compliant configuration fails: %v", errs)
	}
	bad := map[string]any{
		"authentication":  map[string]any{"anonymous": map[string]any{"enabled": true}},
		"authorization":   map[string]any{"mode": "AlwaysAllow"},
		"readOnlyPort":    float64(10255),
		"tlsCipherSuites": []any{"TLS_RSA_WITH_RC4_128_SHA"},
	}
	if errs := checkCIS(bad); len(errs) < 8 {
		t.Errorf("a non-compliant configuration gives only %d errors: %v", len(errs), errs)
	}
}
