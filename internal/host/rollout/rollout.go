// The rollout itself: node by node, cordon, drain, run the upgrade pod,
// wait for the node to come back Ready on the new version, uncordon.

package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"

	"kios.dev/kios/internal/host/kube"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/upgrade/upgradesock"
)

// Config says what to roll out where.
type Config struct {
	Client         kubernetes.Interface
	Image          string   // the upgrade image, as the nodes pull it
	Version        string   // the version it carries
	Nodes          []string // empty: every kiOS node
	MaxUnavailable int      // nodes upgraded at once; 1 when 0
	StageOnly      bool     // stage for the next reboot; no drain, no reboot
	AllowDowngrade bool
	Tries          int           // boots the new image gets to pass its health gate
	Timeout        time.Duration // per node: from the reboot to Ready
	DrainTimeout   time.Duration
	Out            io.Writer
}

// Namespace is where the upgrade pods run (system-node-critical is
// allowed there).
const Namespace = "kube-system"

// OSImage is what the kubelet reports for a kiOS version (os-release's
// PRETTY_NAME).
func OSImage(version string) string { return "kiOS " + version }

// ErrRolledBack means a node came back on its old version.
var ErrRolledBack = errors.New("the node came back on its previous version")

type run struct {
	Config
	start time.Time
	mu    sync.Mutex
}

func (r *run) say(node, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.Out, "[%6.1fs] %s: %s\n", time.Since(r.start).Seconds(), node, fmt.Sprintf(format, args...))
}

// Upgrade rolls the new version out, MaxUnavailable nodes at a time, and
// stops at the first node that fails, naming it and the reason.
func Upgrade(ctx context.Context, c Config) error {
	r := &run{Config: c, start: time.Now()}
	if r.MaxUnavailable < 1 {
		r.MaxUnavailable = 1
	}
	nodes, err := r.targets(ctx)
	if err != nil {
		return err
	}
	for i := 0; i < len(nodes); i += r.MaxUnavailable {
		group := nodes[i:min(i+r.MaxUnavailable, len(nodes))]
		errs := make([]error, len(group))
		var wg sync.WaitGroup
		for j, n := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[j] = r.upgradeNode(ctx, n)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	fmt.Fprintf(r.Out, "[%6.1fs] rollout done: %d node(s) on %s\n", time.Since(r.start).Seconds(), len(nodes), OSImage(r.Version))
	return nil
}

// targets are the named nodes, or every node running kiOS.
func (r *run) targets(ctx context.Context) ([]string, error) {
	if len(r.Nodes) > 0 {
		for _, n := range r.Nodes {
			if _, err := r.Client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{}); err != nil {
				return nil, fmt.Errorf("node %s: %w", n, err)
			}
		}
		return r.Nodes, nil
	}
	list, err := r.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range list.Items {
		if strings.HasPrefix(n.Status.NodeInfo.OSImage, "kiOS") {
			out = append(out, n.Name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no kiOS nodes in the cluster (none reports a kiOS OS image)")
	}
	return out, nil
}

func (r *run) helper(ctx context.Context, node string) *drain.Helper {
	return &drain.Helper{
		Ctx: ctx, Client: r.Client,
		GracePeriodSeconds:  -1,
		IgnoreAllDaemonSets: true,
		DeleteEmptyDirData:  true,
		Timeout:             r.DrainTimeout,
		Out:                 io.Discard, ErrOut: io.Discard,
		OnPodDeletionOrEvictionFinished: func(p *corev1.Pod, eviction bool, err error) {
			if err == nil {
				r.say(node, "evicted %s/%s", p.Namespace, p.Name)
			}
		},
	}
}

func (r *run) upgradeNode(ctx context.Context, name string) error {
	node, err := r.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	if node.Status.NodeInfo.OSImage == OSImage(r.Version) {
		r.say(name, "already on %s", OSImage(r.Version))
		return nil
	}
	req := upgradesock.Request{Op: upgradesock.OpStage, Tries: max(r.Tries, 1), AllowDowngrade: r.AllowDowngrade, Reboot: !r.StageOnly}
	if r.StageOnly {
		res, err := r.runPod(ctx, name, req, node.Status.NodeInfo.BootID)
		if err != nil {
			return fmt.Errorf("node %s: stage: %w", name, err)
		}
		r.say(name, "staged %s: the loader boots %s at the next reboot", OSImage(r.Version), res.Next)
		return nil
	}
	return r.cycle(ctx, node, req, func(n *corev1.Node) error {
		if got := n.Status.NodeInfo.OSImage; got != OSImage(r.Version) {
			return fmt.Errorf("node %s: %w: it reports %q, not %q; %s", name, ErrRolledBack, got, OSImage(r.Version), r.failedBoot(ctx, name))
		}
		return nil
	})
}

// Rollback boots node's previous good version: drained and rebooted as
// for an upgrade.
func Rollback(ctx context.Context, c Config, name string) error {
	r := &run{Config: c, start: time.Now()}
	node, err := r.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	before := node.Status.NodeInfo.OSImage
	return r.cycle(ctx, node, upgradesock.Request{Op: upgradesock.OpRollback, Reboot: true}, func(n *corev1.Node) error {
		if n.Status.NodeInfo.OSImage == before {
			return fmt.Errorf("node %s: still on %s after the rollback", name, before)
		}
		return nil
	})
}

// cycle is one node's turn: cordon, drain, the request, the reboot, the
// wait for Ready, the check, uncordon. On an error the node's state is
// said: unchanged and uncordoned, or cordoned and why.
func (r *run) cycle(ctx context.Context, node *corev1.Node, req upgradesock.Request, check func(*corev1.Node) error) error {
	name := node.Name
	bootID := node.Status.NodeInfo.BootID
	began := time.Now()
	h := r.helper(ctx, name)
	if err := drain.RunCordonOrUncordon(h, node, true); err != nil {
		return fmt.Errorf("node %s: cordon: %w", name, err)
	}
	r.say(name, "cordoned (%s)", node.Status.NodeInfo.OSImage)
	uncordon := func() error {
		n, err := r.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			err = drain.RunCordonOrUncordon(r.helper(ctx, name), n, false)
		}
		if err != nil {
			return fmt.Errorf("uncordon: %w", err)
		}
		r.say(name, "uncordoned")
		return nil
	}
	if err := drain.RunNodeDrain(h, name); err != nil {
		return errors.Join(fmt.Errorf("node %s: drain: %w (nothing staged)", name, err), uncordon())
	}
	r.say(name, "drained")
	res, err := r.runPod(ctx, name, req, bootID)
	if err != nil {
		return errors.Join(fmt.Errorf("node %s: %s: %w (the node is unchanged)", name, req.Op, err), uncordon())
	}
	r.say(name, "%s: %s; rebooting", req.Op, describe(res))
	back, err := r.waitBack(ctx, name, bootID)
	if err != nil {
		return fmt.Errorf("node %s: %w; it stays cordoned; %s", name, err, r.failedBoot(ctx, name))
	}
	checkErr := check(back)
	if err := uncordon(); err != nil {
		return errors.Join(checkErr, fmt.Errorf("node %s: %w", name, err))
	}
	if checkErr != nil {
		return checkErr
	}
	r.say(name, "Ready on %s, %.1fs from cordon to Ready", back.Status.NodeInfo.OSImage, time.Since(began).Seconds())
	return nil
}

func describe(res upgradesock.Result) string {
	s := "next boot " + res.Next
	if res.Written > 0 {
		s += fmt.Sprintf(", %d bytes written to the ESP", res.Written)
	}
	return s
}

// runPod runs the upgrade pod on the node and returns PID 1's answer.
// When the request reboots, the node may go down before the pod's
// status reaches the API server: a new boot ID then counts as done.
func (r *run) runPod(ctx context.Context, node string, req upgradesock.Request, bootID string) (upgradesock.Result, error) {
	args := []string{"--tries", fmt.Sprint(req.Tries), fmt.Sprintf("--reboot=%t", req.Reboot)}
	if req.AllowDowngrade {
		args = append(args, "--allow-downgrade")
	}
	args = append(args, req.Op)
	hostDir := corev1.HostPathDirectory
	root := int64(0)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "kios-upgrade-" + node + "-", Namespace: Namespace,
			Labels: map[string]string{"app.kubernetes.io/name": "kios-upgrade", "kios.dev/node": node}},
		Spec: corev1.PodSpec{
			NodeName:          node,
			RestartPolicy:     corev1.RestartPolicyNever,
			PriorityClassName: "system-node-critical",
			Tolerations:       []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name: "upgrade", Image: r.Image, Command: []string{"/bin/system", "upgrade"}, Args: args, ImagePullPolicy: corev1.PullIfNotPresent,
				SecurityContext:          &corev1.SecurityContext{RunAsUser: &root},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				VolumeMounts:             []corev1.VolumeMount{{Name: "socket", MountPath: upgradesock.SocketDir}},
			}},
			Volumes: []corev1.Volume{{Name: "socket", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: upgradesock.SocketDir, Type: &hostDir}}}},
		},
	}
	created, err := r.Client.CoreV1().Pods(Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return upgradesock.Result{}, fmt.Errorf("create the upgrade pod: %w", err)
	}
	defer r.Client.CoreV1().Pods(Namespace).Delete(context.Background(), created.Name, metav1.DeleteOptions{})
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		p, err := r.Client.CoreV1().Pods(Namespace).Get(ctx, created.Name, metav1.GetOptions{})
		if err == nil {
			if res, done, err := podResult(p); done {
				return res, err
			}
		} else if !apierrors.IsNotFound(err) {
			return upgradesock.Result{}, err
		}
		if req.Reboot {
			if n, err := r.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err == nil && n.Status.NodeInfo.BootID != bootID && n.Status.NodeInfo.BootID != "" {
				return upgradesock.Result{Next: "(the node rebooted before the pod reported)"}, nil
			}
		}
		select {
		case <-ctx.Done():
			return upgradesock.Result{}, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	return upgradesock.Result{}, fmt.Errorf("the upgrade pod %s did not finish in 10 minutes", created.Name)
}

// podResult reads PID 1's answer from a finished upgrade pod.
func podResult(p *corev1.Pod) (upgradesock.Result, bool, error) {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" || w.Reason == "InvalidImageName") {
			return upgradesock.Result{}, true, fmt.Errorf("the node cannot pull the upgrade image: %s: %s", w.Reason, w.Message)
		}
		t := cs.State.Terminated
		if t == nil {
			continue
		}
		var res upgradesock.Result
		msg := strings.TrimSpace(t.Message)
		if i := strings.LastIndex(msg, "{"); i > 0 && !json.Valid([]byte(msg)) {
			msg = msg[strings.LastIndex(msg[:i+1], "\n")+1:]
		}
		jerr := json.Unmarshal([]byte(msg), &res)
		switch {
		case t.ExitCode == 0 && jerr == nil:
			return res, true, nil
		case jerr == nil && res.Error != "":
			return res, true, errors.New(res.Error)
		default:
			return upgradesock.Result{}, true, fmt.Errorf("the upgrade pod exited %d: %s", t.ExitCode, strings.TrimSpace(t.Message))
		}
	}
	return upgradesock.Result{}, false, nil
}

// waitBack waits until the node is Ready with a boot ID other than
// bootID.
func (r *run) waitBack(ctx context.Context, name, bootID string) (*corev1.Node, error) {
	deadline := time.Now().Add(r.Timeout)
	last := "no answer yet"
	said := ""
	for time.Now().Before(deadline) {
		n, err := r.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
		} else {
			rebooted := n.Status.NodeInfo.BootID != bootID
			ready, why := kube.Ready(n)
			last = fmt.Sprintf("%s, boot ID %s, %s", why, n.Status.NodeInfo.BootID, n.Status.NodeInfo.OSImage)
			if rebooted && ready {
				return n, nil
			}
			if rebooted && said == "" {
				said = "rebooted"
				r.say(name, "rebooted (%s); waiting for Ready", n.Status.NodeInfo.OSImage)
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
	return nil, fmt.Errorf("not back Ready after a reboot within %s (last: %s)", r.Timeout, last)
}

// failedBoot is what the node's init log (the node log API: the
// kubelet serves /var/log) says of the failed boot, or why it could
// not be read.
func (r *run) failedBoot(ctx context.Context, node string) string {
	b, err := r.Client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", "logs", "init.log").DoRaw(ctx)
	if err != nil {
		return "its init log is unreadable: " + err.Error()
	}
	// The log rotates at 4 MiB: the failed boot may be in the older file.
	if older, err := r.Client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", "logs", "init.log.1").DoRaw(ctx); err == nil {
		b = append(older, b...)
	}
	lines := FailedBoot(string(b), r.Version)
	if len(lines) == 0 {
		return "its init log has no lines of a boot of " + r.Version
	}
	return "its init log of the failed boot says:\n  " + strings.Join(lines, "\n  ")
}

// FailedBoot picks from an init log the telling lines of the last boot
// of version: the trial, the health gate's reasons, the kubelet's exits.
func FailedBoot(log, version string) []string {
	lines := strings.Split(log, "\n")
	start := -1
	for i, l := range lines {
		if e, ok := events.Parse(l); ok && events.BootEntry.With("version", version).Match(e) {
			start = i
		}
	}
	if start < 0 {
		return nil
	}
	telling := events.Any(events.BootEntry, events.Trial, events.TrialFailed, events.HealthWait,
		events.ServiceExited.With("name", "kubelet"), events.ShutdownStart)
	var out []string
	for _, l := range lines[start:] {
		e, ok := events.Parse(l)
		if !ok {
			continue
		}
		if e.Name == events.Boot && len(out) > 0 {
			break
		}
		if telling.Match(e) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	if len(out) > 12 {
		out = append(out[:3], out[len(out)-9:]...)
	}
	return out
}
