package controlplane

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"kios.dev/kios/internal/shared/pki"
)

// Client returns an admin clientset that dials through the lab.
func (cp *ControlPlane) Client(r Runner) (*kubernetes.Clientset, *rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Layout.Conf("admin"))
	if err != nil {
		return nil, nil, err
	}
	cfg.Dial = r.DialContext
	cfg.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, cfg, err
}

// ClientAt returns an admin clientset for the API server at host
// (https://ADDR:PORT), e.g. a forward of the lab's API server.
func (cp *ControlPlane) ClientAt(host string) (*kubernetes.Clientset, *rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags(host, cp.Layout.Conf("admin"))
	if err != nil {
		return nil, nil, err
	}
	cfg.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, cfg, err
}

// NewToken makes a bootstrap token ID.SECRET.
func NewToken() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:6]) + "." + string(b[6:]), nil
}

// NodeBootstrapGroup is the group kubeadm gives its default node token.
const NodeBootstrapGroup = "system:bootstrappers:kubeadm:default-node-token"

// Bootstrap creates what nodes join with, as kubeadm init does: the
// cluster-info ConfigMap in kube-public (readable anonymously; the
// controller manager's bootstrap signer signs it), the RBAC that lets
// bootstrap tokens create CSRs which are approved automatically, and a
// bootstrap token. It returns the token and the CA hash.
func (cp *ControlPlane) Bootstrap(ctx context.Context, cs kubernetes.Interface, ttl time.Duration) (token, caHash string, err error) {
	caPEM, err := os.ReadFile(cp.Layout.PKI("ca.crt"))
	if err != nil {
		return "", "", err
	}
	ca, err := pki.ParseCert(caPEM)
	if err != nil {
		return "", "", err
	}
	server := fmt.Sprintf("https://%s:6443", cp.Advertise)
	info := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"},
		Data: map[string]string{"kubeconfig": string(pki.Kubeconfig(server, caPEM, "", nil, ""))}}
	objs := []func() error{
		func() error {
			_, err := cs.CoreV1().ConfigMaps("kube-public").Create(ctx, info, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().Roles("kube-public").Create(ctx, &rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:bootstrap-signer-clusterinfo", Namespace: "kube-public"},
				Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cluster-info"}}},
			}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().RoleBindings("kube-public").Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:bootstrap-signer-clusterinfo", Namespace: "kube-public"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "kubeadm:bootstrap-signer-clusterinfo"},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "system:anonymous"}},
			}, metav1.CreateOptions{})
			return err
		},
		// The API server's client certificate for kubelets (logs, exec,
		// proxy) must pass the kubelets' webhook authorization.
		func() error {
			_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "kios:apiserver-kubelet-api-admin"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:kubelet-api-admin"},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "kube-apiserver-kubelet-client"}},
			}, metav1.CreateOptions{})
			return err
		},
		bind(ctx, cs, "kubeadm:kubelet-bootstrap", "system:node-bootstrapper", NodeBootstrapGroup),
		bind(ctx, cs, "kubeadm:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", NodeBootstrapGroup),
		bind(ctx, cs, "kubeadm:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes"),
	}
	for _, f := range objs {
		if err := f(); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", "", fmt.Errorf("bootstrap objects: %w", err)
		}
	}
	token, err = cp.CreateToken(ctx, cs, ttl)
	return token, pki.Hash(ca), err
}

func bind(ctx context.Context, cs kubernetes.Interface, name, role, group string) func() error {
	return func() error {
		_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}},
		}, metav1.CreateOptions{})
		return err
	}
}

// CreateToken stores a new bootstrap token Secret.
func (cp *ControlPlane) CreateToken(ctx context.Context, cs kubernetes.Interface, ttl time.Duration) (string, error) {
	token, err := NewToken()
	if err != nil {
		return "", err
	}
	return token, StoreToken(ctx, cs, token, ttl)
}

// StoreToken stores a given bootstrap token ID.SECRET as a Secret.
func StoreToken(ctx context.Context, cs kubernetes.Interface, token string, ttl time.Duration) error {
	if len(token) != 23 || token[6] != '.' {
		return fmt.Errorf("bootstrap token %q is not ID.SECRET", token)
	}
	id, secret := token[:6], token[7:]
	_, err := cs.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: "kube-system"},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			"token-id": id, "token-secret": secret,
			"expiration":                     time.Now().Add(ttl).UTC().Format(time.RFC3339),
			"usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
			"auth-extra-groups": NodeBootstrapGroup,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create bootstrap token: %w", err)
	}
	return nil
}

// ApproveServingCSRs approves pending kubelet serving certificate
// requests of nodes, as a cluster admin (or an approver) does for
// serverTLSBootstrap. It returns how many it approved.
func ApproveServingCSRs(ctx context.Context, cs kubernetes.Interface) (int, error) {
	list, err := cs.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, csr := range list.Items {
		if csr.Spec.SignerName != certv1.KubeletServingSignerName || len(csr.Status.Conditions) > 0 ||
			!strings.HasPrefix(csr.Spec.Username, "system:node:") {
			continue
		}
		csr.Status.Conditions = append(csr.Status.Conditions, certv1.CertificateSigningRequestCondition{
			Type: certv1.CertificateApproved, Status: corev1.ConditionTrue,
			Reason: "KiosLabApprove", Message: "approved by the kiOS lab for a node's serving certificate",
		})
		if _, err := cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, &csr, metav1.UpdateOptions{}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
