package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kios.dev/kios/internal/host/lab"
	"kios.dev/kios/internal/host/rollout"
)

// clusterFlags are how upgrade and rollback reach a cluster: a kios up
// lab (--dir), or any cluster (--kubeconfig, with --registry for
// upgrade images).
type clusterFlags struct {
	dir, kubeconfig, registry string
}

func (c *clusterFlags) client() (kubernetes.Interface, error) {
	if (c.dir == "") == (c.kubeconfig == "") {
		return nil, errors.New("give --dir (a kios up lab) or --kubeconfig (another cluster)")
	}
	kc := c.kubeconfig
	if c.dir != "" {
		kc = filepath.Join(c.dir, lab.Kubeconfig)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kc, err)
	}
	return kubernetes.NewForConfig(cfg)
}

func runUpgrade(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("upgrade", stderr)
	var cf clusterFlags
	var c rollout.Config
	to := fs.String("to", "", "the new version: a kiOS EFI file (packed into an upgrade image and pushed) or an upgrade image in a registry")
	nodes := fs.String("nodes", "", "comma-separated nodes to upgrade, in order (default: every kiOS node)")
	parts := fs.String("parts", defaultParts(), "built components: the system image the upgrade image is made from")
	fs.StringVar(&cf.dir, "dir", "", "a kios up lab (its kubeconfig and registry)")
	fs.StringVar(&cf.kubeconfig, "kubeconfig", "", "any other cluster")
	fs.StringVar(&cf.registry, "registry", "", "with --kubeconfig and an EFI: the registry (host[:port]/path) to push the upgrade image to, which the nodes pull from")
	fs.IntVar(&c.MaxUnavailable, "max-unavailable", 1, "nodes upgraded at once")
	fs.BoolVar(&c.StageOnly, "stage-only", false, "stage the new version for each node's next reboot: no drain, no reboot")
	fs.BoolVar(&c.AllowDowngrade, "allow-downgrade", false, "allow a version older than the running one")
	fs.IntVar(&c.Tries, "tries", 1, "boots the new version gets to pass its health gate before the loader goes back")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "per node: how long it may take from its reboot to Ready")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 10*time.Minute, "per node: how long the drain may take (PodDisruptionBudgets can hold it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("upgrade: --to FILE.efi|IMAGE is required")
	}
	client, err := cf.client()
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	if *nodes != "" {
		c.Nodes = strings.Split(*nodes, ",")
	}
	if c.Image, c.Version, err = upgradeImage(*to, cf, *parts, stdout); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	c.Client, c.Out = client, stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rollout.Upgrade(ctx, c); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	return nil
}

// upgradeImage makes the image the nodes pull: an EFI is packed and
// pushed (to the lab registry, or --registry); an image reference is
// used as it is, its version read from its label.
func upgradeImage(to string, cf clusterFlags, parts string, stdout io.Writer) (image, version string, err error) {
	if _, statErr := os.Stat(to); statErr != nil {
		if strings.HasSuffix(to, ".efi") {
			return "", "", statErr
		}
		mirror := ""
		if cf.dir != "" {
			// The lab's nodes pull every image through the lab registry
			// (an upgrade image put there with kios load, for one).
			if mirror, err = lab.Registry(cf.dir); err != nil {
				return "", "", err
			}
		}
		version, err = rollout.VersionVia(to, mirror)
		return to, version, err
	}
	img, version, err := rollout.Pack(to, filepath.Join(parts, "images", "system.tar"))
	if err != nil {
		return "", "", err
	}
	if cf.dir != "" {
		reg, err := lab.Registry(cf.dir)
		if err != nil {
			return "", "", err
		}
		if _, err := rollout.Push(img, reg, version, true); err != nil {
			return "", "", err
		}
		// The nodes reach the lab registry as a mirror of every registry.
		image = "localhost/" + rollout.Repository + ":" + version
	} else {
		if cf.registry == "" {
			return "", "", errors.New("an EFI for a cluster other than a lab needs --registry, where the nodes pull the upgrade image from")
		}
		if image, err = rollout.Push(img, cf.registry, version, false); err != nil {
			return "", "", err
		}
	}
	fmt.Fprintf(stdout, "upgrade: %s carries kiOS %s\n", image, version)
	return image, version, nil
}

func runRollback(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rollback", stderr)
	var cf clusterFlags
	var c rollout.Config
	fs.StringVar(&cf.dir, "dir", "", "a kios up lab")
	fs.StringVar(&cf.kubeconfig, "kubeconfig", "", "any other cluster")
	image := fs.String("image", "localhost/kios/system:v1", "the image of the pod that asks PID 1 (any kiOS system image the node has)")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "how long the node may take from its reboot to Ready")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 10*time.Minute, "how long the drain may take")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: kios rollback [--dir DIR | --kubeconfig FILE] NODE")
	}
	client, err := cf.client()
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	c.Client, c.Out, c.Image = client, stdout, *image
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rollout.Rollback(ctx, c, fs.Arg(0)); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}
