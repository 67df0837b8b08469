// This file holds the benchmark's Kubernetes steps: waiting for the
// node to be Ready, the Deployments of the first pod and of the growth
// steps, and waiting for their pods to be Running or gone.

package bench

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"kios.dev/kios/dev/compare"
	"kios.dev/kios/internal/host/kube"
	"kios.dev/kios/internal/host/lab/controlplane"
	"kios.dev/kios/internal/host/vm"
)

// The intervals the API server is polled at: the precision of the
// figures taken when what is polled for is seen.
const (
	readyPoll   = 200 * time.Millisecond // node registered, Ready
	runningPoll = 250 * time.Millisecond // pods Running
	gonePoll    = 500 * time.Millisecond // pods gone
)

// waitReady polls the API server until the node is registered and
// Ready, approving its serving certificate as the lab does, and returns
// since() at each.
func (l *labBoots) waitReady(ctx context.Context, v *vm.VM, name string, since func() float64) (registered, ready float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	seen, last := false, "no answer yet"
	var lastApprove time.Time
	err = wait.PollUntilContextCancel(ctx, readyPoll, false, func(ctx context.Context) (bool, error) {
		select {
		case <-v.Done():
			return false, fmt.Errorf("QEMU exited before node %s was Ready", name)
		default:
		}
		node, err := l.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if !seen {
			seen, registered = true, since()
		}
		if time.Since(lastApprove) > 2*time.Second {
			controlplane.ApproveServingCSRs(ctx, l.cs)
			lastApprove = time.Now()
		}
		ok, why := kube.Ready(node)
		if ok {
			ready = since()
		}
		last = why
		return ok, nil
	})
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("node %s not Ready (last seen: %s): %w", name, last, err)
	}
	return registered, ready, err
}

func deployment(name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	zero := int64(0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero, AutomountServiceAccountToken: new(bool),
					Containers: []corev1.Container{{Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent}}}}},
	}
}

// firstPod runs a one-replica Deployment and times its pod to Running.
func (l *labBoots) firstPod(ctx context.Context, figs compare.Figures, since func() float64) error {
	if _, err := l.cs.AppsV1().Deployments("default").Create(ctx, deployment("first", PauseImage, 1), metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := l.waitRunning(ctx, "first", 1, 5*time.Minute); err != nil {
		return err
	}
	figs[compare.FirstPodRunning] = since()
	return l.deleteAndWait(ctx, "first")
}

// waitRunning waits until n pods of app are Running and returns how long
// that took.
func (l *labBoots) waitRunning(ctx context.Context, app string, n int, timeout time.Duration) (float64, error) {
	start := time.Now()
	var took float64
	err := wait.PollUntilContextTimeout(ctx, runningPoll, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := l.cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return false, nil
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				running++
			}
		}
		if running < n {
			return false, nil
		}
		took = time.Since(start).Seconds()
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("%d pods of %s not Running: %w", n, app, err)
	}
	return took, nil
}

// deleteAndWait deletes a Deployment and waits until its pods are gone.
func (l *labBoots) deleteAndWait(ctx context.Context, app string) error {
	bg := metav1.DeletePropagationBackground
	err := l.cs.AppsV1().Deployments("default").Delete(ctx, app, metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, gonePoll, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := l.cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		return err == nil && len(pods.Items) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("pods of %s not gone: %w", app, err)
	}
	return nil
}

// growBatch is the most pods grow adds at once. Given many new pods at
// once, a node under emulation does not get them Running: their
// sandboxes take longer than the kubelet's 2-minute CRI deadline and
// are retried (see docs/benchmark.md). Both systems get the same
// batches.
const growBatch = 10

// grow scales the growth Deployment to n pods, growBatch at a time, each
// batch once the last is Running, and times it to all n Running.
func (l *labBoots) grow(ctx context.Context, n int) (float64, error) {
	start := time.Now()
	deployments := l.cs.AppsV1().Deployments("default")
	for {
		var have, next int
		// The deployment controller writes the object's status between
		// our read and write; a conflict is read again and retried.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := deployments.Get(ctx, growthName, metav1.GetOptions{})
			have = 0
			switch {
			case apierrors.IsNotFound(err):
				d, err = nil, nil
			case err == nil && d.Spec.Replicas != nil:
				have = int(*d.Spec.Replicas)
			}
			if err != nil || have >= n {
				return err
			}
			next = min(n, have+growBatch)
			replicas := int32(next)
			if d == nil {
				_, err = deployments.Create(ctx, deployment(growthName, PauseImage, replicas), metav1.CreateOptions{})
				return err
			}
			d.Spec.Replicas = &replicas
			_, err = deployments.Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("scale growth toward %d pods: %w", n, err)
		}
		if have >= n {
			return time.Since(start).Seconds(), nil
		}
		if _, err := l.waitRunning(ctx, growthName, next, 5*time.Minute+time.Duration(next-have)*6*time.Second); err != nil {
			return 0, err
		}
	}
}

// growthName names the Deployment of the growth steps and its pods'
// name prefix.
const growthName = "growth"

// podState sums up a pod's containers for an error message.
func podState(ctx context.Context, cs kubernetes.Interface, name string) string {
	p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	s := string(p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		s += fmt.Sprintf("; %s restarts=%d", c.Name, c.RestartCount)
		if t := c.LastTerminationState.Terminated; t != nil {
			s += fmt.Sprintf(" last exit %d %s %q", t.ExitCode, t.Reason, t.Message)
		}
		if w := c.State.Waiting; w != nil {
			s += fmt.Sprintf(" waiting %s %q", w.Reason, w.Message)
		}
	}
	return s
}
