package join

import "testing"

// FuzzVerify feeds Verify what a man in the middle could serve as
// cluster-info. The pinned hash is one no certificate hashes to, so no
// input may be accepted: an accepted one would be a forged cluster-info
// passing the CA pin.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"data":{"kubeconfig":"clusters: []","jws-kubeconfig-abcdef":"x..y"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := Verify(b, "abcdef", "0123456789abcdef", "sha256:00"); err == nil {
			t.Errorf("accepted a cluster-info against a CA hash no certificate has: %+v", r)
		}
	})
}
