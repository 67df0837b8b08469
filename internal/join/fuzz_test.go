package join

import "testing"

func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"data":{"kubeconfig":"clusters: []","jws-kubeconfig-abcdef":"x..y"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		Verify(b, "abcdef", "0123456789abcdef", "sha256:00")
	})
}
