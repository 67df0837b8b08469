package controlplane

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// CNIImage is the cni-installer image built by this project.
const CNIImage = "localhost/kios/cni-installer:v1"

// InstallCNI applies the cni-installer DaemonSet and its RBAC, as a
// cluster admin installs a CNI. api is the address pods use to reach the
// API server (host:port); there is no kube-proxy for the Service address.
func InstallCNI(ctx context.Context, cs kubernetes.Interface, apiHost, apiPort string) error {
	const name, ns = "kios-cni", "kube-system"
	labels := map[string]string{"app.kubernetes.io/name": name}
	hostPathType := corev1.HostPathDirectoryOrCreate
	no, yes := false, true
	objs := []func() error{
		func() error {
			_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
				Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
				Spec: appsv1.DaemonSetSpec{
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{
							HostNetwork:        true,
							ServiceAccountName: name,
							PriorityClassName:  "system-node-critical",
							Tolerations:        []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
							Containers: []corev1.Container{{
								Name: "install", Image: CNIImage, ImagePullPolicy: corev1.PullIfNotPresent,
								Env: []corev1.EnvVar{
									{Name: "KUBERNETES_SERVICE_HOST", Value: apiHost},
									{Name: "KUBERNETES_SERVICE_PORT", Value: apiPort},
									{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
								},
								SecurityContext: &corev1.SecurityContext{
									AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
									Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
								},
								VolumeMounts: []corev1.VolumeMount{
									{Name: "bin", MountPath: "/host/opt/cni/bin"},
									{Name: "conf", MountPath: "/host/etc/cni/net.d"},
								},
							}},
							Volumes: []corev1.Volume{
								{Name: "bin", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/opt/cni/bin", Type: &hostPathType}}},
								{Name: "conf", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc/cni/net.d", Type: &hostPathType}}},
							},
						},
					},
				},
			}, metav1.CreateOptions{})
			return err
		},
	}
	for _, f := range objs {
		if err := f(); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("install CNI: %w", err)
		}
	}
	return nil
}
