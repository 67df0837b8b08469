package uki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/foxboron/go-uefi/authenticode"
)

// Sign adds an Authenticode signature (SHA-256, PKCS#7) to a PE image,
// as UEFI Secure Boot checks it, and updates the PE checksum (which the
// signature does not cover). The signature carries its signing time, so
// signed images differ from build to build; the unsigned image does not.
func Sign(img []byte, key crypto.Signer, cert *x509.Certificate) ([]byte, error) {
	bin, err := authenticode.Parse(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("read the image to sign: %w", err)
	}
	if _, err := bin.Sign(key, cert); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	out := bin.Bytes()
	p, err := parsePE(out)
	if err != nil {
		return nil, fmt.Errorf("signed image: %w", err)
	}
	off := p.optOffset + optCheckSum
	binary.LittleEndian.PutUint32(out[off:], 0)
	binary.LittleEndian.PutUint32(out[off:], Checksum(out, off))
	return out, nil
}

// Verify checks that img carries a valid signature by cert.
func Verify(img []byte, cert *x509.Certificate) error {
	bin, err := authenticode.Parse(bytes.NewReader(img))
	if err != nil {
		return err
	}
	ok, err := bin.Verify(cert)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("no valid signature by this certificate")
	}
	return nil
}

// Signers are the certificates the image's Authenticode signatures
// carry; none for an unsigned image. PID 1 checks an upgrade against
// the certificate the running image was signed with.
func Signers(img []byte) ([]*x509.Certificate, error) {
	bin, err := authenticode.Parse(bytes.NewReader(img))
	if err != nil {
		return nil, err
	}
	sigs, err := bin.Signatures()
	if err != nil {
		return nil, fmt.Errorf("read signatures: %w", err)
	}
	var certs []*x509.Certificate
	for _, s := range sigs {
		a, err := authenticode.ParseAuthenticode(s.Certificate)
		if err != nil {
			return nil, fmt.Errorf("read signature: %w", err)
		}
		certs = append(certs, a.Pkcs.Certs...)
	}
	return certs, nil
}

// LoadSigner reads a PEM private key (PKCS#8, PKCS#1 or EC; not
// encrypted) and a PEM certificate.
func LoadSigner(keyPath, certPath string) (crypto.Signer, *x509.Certificate, error) {
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("signing key: %w", err)
	}
	block, _ := pem.Decode(kb)
	if block == nil {
		return nil, nil, fmt.Errorf("signing key %s: not PEM", keyPath)
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, nil, fmt.Errorf("signing key %s is encrypted: decrypt it first (openssl pkcs8 -in KEY -out PLAIN)", keyPath)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("signing key %s: %w", keyPath, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("signing key %s: cannot sign", keyPath)
	}
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate: %w", err)
	}
	cblock, _ := pem.Decode(cb)
	if cblock == nil || cblock.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("signing certificate %s: not a PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate %s: %w", certPath, err)
	}
	return signer, cert, nil
}
