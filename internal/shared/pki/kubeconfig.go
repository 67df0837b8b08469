package pki

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Kubeconfig renders a kubeconfig for one user of one cluster. Give
// either a client certificate pair or a token.
func Kubeconfig(server string, caPEM []byte, user string, client *Pair, token string) []byte {
	b64 := base64.StdEncoding.EncodeToString
	var auth string
	switch {
	case client != nil:
		auth = fmt.Sprintf("    client-certificate-data: %s\n    client-key-data: %s\n", b64(client.CertPEM), b64(client.KeyPEM))
	case token != "":
		auth = fmt.Sprintf("    token: %s\n", token)
	}
	return []byte(strings.Join([]string{
		"apiVersion: v1",
		"kind: Config",
		"clusters:",
		"- name: kios",
		"  cluster:",
		"    server: " + server,
		"    certificate-authority-data: " + b64(caPEM),
		"users:",
		"- name: " + strconv.Quote(user),
		"  user:",
		strings.TrimRight(auth, "\n"),
		"contexts:",
		"- name: " + strconv.Quote(user+"@kios"),
		"  context:",
		"    cluster: kios",
		"    user: " + strconv.Quote(user),
		"current-context: " + strconv.Quote(user+"@kios"),
		"",
	}, "\n"))
}
