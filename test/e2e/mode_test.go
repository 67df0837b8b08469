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
