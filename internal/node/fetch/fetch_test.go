package fetch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kios.dev/kios/internal/shared/configsrc"
)

const doc = "apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\nhostname: n1\n"

func TestURL(t *testing.T) {
	hang := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(doc)) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) })
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-hang })
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("# padding\n", 1000))
		for i := 0; i < 1000; i++ { // 10 MB, more than any document
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(hang) // before Close, which waits for the hanging handler
	c, err := Client(nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(doc))
	good := hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		path, sha string
		want      error
		msg       string
	}{
		{"/ok", "", nil, ""},
		{"/ok", good, nil, ""},
		{"/ok", strings.Repeat("0", 64), ErrHashMismatch, ""},
		{"/500", "", nil, "answered 500 Internal Server Error"},
		{"/404", "", ErrNotFound, ""},
		{"/loop", "", nil, "more than 5 redirects"},
		{"/hang", "", nil, "timed out"},
		{"/endless", "", configsrc.ErrTooLarge, ""},
	} {
		start := time.Now()
		b, err := URL(context.Background(), c, srv.URL+tc.path+"?sig=s3cr3t", tc.sha)
		switch {
		case tc.want == nil && tc.msg == "":
			if err != nil || string(b) != doc {
				t.Errorf("%s: %q, %v", tc.path, b, err)
			}
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: err = %v, want %v", tc.path, err, tc.want)
		case tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s: err = %v, want %q", tc.path, err, tc.msg)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: error quotes the URL's query: %v", tc.path, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %s, the client's timeout is 2s", tc.path, d)
		}
	}
}

func TestHTTPSTrustsOnlyTheImageCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Redirect(w, r, "http://127.0.0.1:1/x", http.StatusFound)
			return
		}
		w.Write([]byte(doc))
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	c, err := Client(ca, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := URL(context.Background(), c, srv.URL+"/n1.yaml", ""); err != nil || string(b) != doc {
		t.Errorf("with the server's CA: %q, %v", b, err)
	}
	if _, err := URL(context.Background(), c, srv.URL+"/down", ""); err == nil || !strings.Contains(err.Error(), "redirected to plain http") {
		t.Errorf("https to http redirect: %v", err)
	}
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(doc)) }))
	other.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	other.StartTLS()
	defer other.Close()
	if _, err := URL(context.Background(), c, other.URL+"/n1.yaml", ""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a server the CA did not sign: %v", err)
	}
	if _, err := Client([]byte("no pem"), time.Second); err == nil {
		t.Errorf("a CA file without a certificate was accepted")
	}
}

// selfSigned is a certificate for 127.0.0.1 that no CA of the test signed.
func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
