package uki

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/pe"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func testSigner(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kios test db key"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

func TestSign(t *testing.T) {
	stub, err := os.ReadFile(stubPath(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build(stub, []Section{{".cmdline", []byte("console=ttyS0")}, {".linux", bytes.Repeat([]byte{9}, 4096)}})
	if err != nil {
		t.Fatal(err)
	}
	key, cert := testSigner(t)
	signed, err := Sign(img, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(signed, cert); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if certs, err := Signers(signed); err != nil || len(certs) != 1 || !certs[0].Equal(cert) {
		t.Errorf("Signers = %v, %v; want the signing certificate", certs, err)
	}
	if certs, err := Signers(img); err != nil || len(certs) != 0 {
		t.Errorf("Signers of the unsigned image = %v, %v; want none", certs, err)
	}
	f, err := pe.NewFile(bytes.NewReader(signed))
	if err != nil {
		t.Fatal(err)
	}
	oh := f.OptionalHeader.(*pe.OptionalHeader64)
	if sec := oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY]; sec.Size == 0 {
		t.Error("no certificate table")
	}
	checksumOff := bytes.Index(signed, []byte("PE\x00\x00")) + 4 + 20 + optCheckSum
	if got, want := oh.CheckSum, Checksum(signed, checksumOff); got != want {
		t.Errorf("checksum %#x, want %#x", got, want)
	}
	if err := Verify(img, cert); err == nil {
		t.Error("the unsigned image verifies")
	}
	// One byte of the command line changed: the signature no longer holds.
	tampered := append([]byte(nil), signed...)
	i := bytes.Index(tampered, []byte("console=ttyS0"))
	tampered[i] = 'C'
	if err := Verify(tampered, cert); err == nil {
		t.Error("a changed .cmdline still verifies")
	}
	_, other := testSigner(t)
	if err := Verify(signed, other); err == nil {
		t.Error("verifies against another certificate")
	}
}

func TestLoadSigner(t *testing.T) {
	dir := t.TempDir()
	key, cert := testSigner(t)
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600)
		return p
	}
	k := write("key.pem", "PRIVATE KEY", kb)
	c := write("cert.pem", "CERTIFICATE", cert.Raw)
	if _, _, err := LoadSigner(k, c); err != nil {
		t.Fatal(err)
	}
	enc := write("enc.pem", "ENCRYPTED PRIVATE KEY", []byte("x"))
	notPEM := filepath.Join(dir, "junk")
	os.WriteFile(notPEM, []byte("junk"), 0o600)
	for name, paths := range map[string][2]string{
		"encrypted key": {enc, c}, "missing key": {filepath.Join(dir, "none"), c},
		"key not PEM": {notPEM, c}, "cert not PEM": {k, notPEM}, "key as cert": {k, k},
	} {
		if _, _, err := LoadSigner(paths[0], paths[1]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
