package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kios.dev/kios/internal/host/lab"
)

// ClusterRun is one `kios up` boot measured from the node's QEMU start.
type ClusterRun struct {
	RegisteredS float64 `json:"node_registered_s"`
	ReadyS      float64 `json:"node_ready_s"`
	FirstPodS   float64 `json:"first_deployment_pod_running_s"`
}

// Milestones are the run's figures, named as the command prints them.
func (r ClusterRun) Milestones() []ClusterMilestone {
	return []ClusterMilestone{{"node registered", r.RegisteredS}, {"node ready", r.ReadyS}, {"first pod running", r.FirstPodS}}
}

// ClusterMilestone is one figure of a ClusterRun.
type ClusterMilestone struct {
	Name    string
	Seconds float64
}

var reProgress = regexp.MustCompile(`^\[\s*([0-9.]+)s\] (.*)$`)

// Cluster runs `kios up` n times; each time it loads image (a demo
// archive), runs a one-replica Deployment of name, and stops the lab.
// It returns the runs and their medians.
func Cluster(self string, c lab.Config, n int, archive, imageName string, log Logger) ([]ClusterRun, ClusterRun, error) {
	var runs []ClusterRun
	for i := 0; i < n; i++ {
		dir, err := os.MkdirTemp("", "kios-bench-lab-")
		if err != nil {
			return nil, ClusterRun{}, err
		}
		c.Dir = filepath.Join(dir, "lab")
		r, err := clusterOnce(self, c, archive, imageName)
		_ = lab.Down(c.Dir, io.Discard)
		os.RemoveAll(dir)
		if err != nil {
			return runs, ClusterRun{}, fmt.Errorf("cluster boot %d: %w", i+1, err)
		}
		log.Printf("bench: cluster %d/%d: node registered %.1fs, Ready %.1fs, first Deployment pod Running %.1fs after QEMU start",
			i+1, n, r.RegisteredS, r.ReadyS, r.FirstPodS)
		runs = append(runs, r)
	}
	of := func(f func(ClusterRun) float64) float64 {
		var v []float64
		for _, r := range runs {
			v = append(v, f(r))
		}
		return medianOf(v)
	}
	med := ClusterRun{
		RegisteredS: of(func(r ClusterRun) float64 { return r.RegisteredS }),
		ReadyS:      of(func(r ClusterRun) float64 { return r.ReadyS }),
		FirstPodS:   of(func(r ClusterRun) float64 { return r.FirstPodS }),
	}
	return runs, med, nil
}

func clusterOnce(self string, c lab.Config, archive, imageName string) (ClusterRun, error) {
	var r ClusterRun
	if err := lab.Up(self, c, io.Discard, 15*time.Minute); err != nil {
		return r, err
	}
	upDone := time.Now()
	var boot, reg, ready float64
	b, err := os.ReadFile(filepath.Join(c.Dir, lab.ProgressFile))
	if err != nil {
		return r, err
	}
	for _, line := range regexp.MustCompile(`\n`).Split(string(b), -1) {
		m := reProgress.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		t, _ := strconv.ParseFloat(m[1], 64)
		switch {
		case regexp.MustCompile(`^node \S+ booting`).MatchString(m[2]) && boot == 0:
			boot = t
		case regexp.MustCompile(`^node \S+ registered`).MatchString(m[2]) && reg == 0:
			reg = t
		case regexp.MustCompile(`^node \S+ Ready`).MatchString(m[2]) && ready == 0:
			ready = t
		}
	}
	r.RegisteredS, r.ReadyS = reg-boot, ready-boot
	if err := lab.Load(c.Dir, archive, io.Discard); err != nil {
		return r, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(c.Dir, lab.Kubeconfig))
	if err != nil {
		return r, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return r, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	one := int32(1)
	labels := map[string]string{"app": "bench"}
	_, err = cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "demo", Image: imageName, Args: []string{"--listen=:8080"}}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return r, err
	}
	err = wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=bench"})
		if err != nil || len(pods.Items) == 0 || pods.Items[0].Status.Phase != corev1.PodRunning {
			return false, nil
		}
		r.FirstPodS = r.ReadyS + time.Since(upDone).Seconds()
		return true, nil
	})
	if err != nil {
		return r, fmt.Errorf("deployment pod not Running: %w", err)
	}
	return r, nil
}
