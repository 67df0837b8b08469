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

	"github.com/spf13/cobra"
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

func upgradeCommand() *cobra.Command {
	var cf clusterFlags
	var c rollout.Config
	var to, nodes, parts string
	cmd := &cobra.Command{
		Use:   "upgrade --to FILE.efi|IMAGE",
		Short: "upgrade kiOS nodes in place, one at a time",
		Long: `Upgrade kiOS nodes in place, one at a time: each is drained, stages the new
version, reboots into it and must pass its health gate, or its loader goes
back to the version it ran (docs/upgrade.md).`,
		Example: `  kios upgrade --dir out/lab --to v2.efi
  kios upgrade --kubeconfig K --registry R --to v2.efi --nodes a,b
  kios upgrade --kubeconfig K --to R/kios/upgrade:2.0.0`,
		Args: NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return UsageErrorf(cmd, "upgrade: --to FILE.efi|IMAGE is required")
			}
			stdout := cmd.OutOrStdout()
			client, err := cf.client()
			if err != nil {
				return fmt.Errorf("upgrade: %w", err)
			}
			if nodes != "" {
				c.Nodes = strings.Split(nodes, ",")
			}
			if c.Image, c.Version, err = upgradeImage(to, cf, parts, stdout); err != nil {
				return fmt.Errorf("upgrade: %w", err)
			}
			c.Client, c.Out = client, stdout
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := rollout.Upgrade(ctx, c); err != nil {
				return fmt.Errorf("upgrade: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the new version: a kiOS EFI file (packed into an upgrade image and pushed) or an upgrade image in a registry")
	f.StringVar(&nodes, "nodes", "", "comma-separated nodes to upgrade, in order (default: every kiOS node)")
	f.StringVar(&parts, "parts", DefaultParts(), "built components: the system image the upgrade image is made from")
	f.StringVar(&cf.dir, "dir", "", "a kios up lab (its kubeconfig and registry)")
	f.StringVar(&cf.kubeconfig, "kubeconfig", "", "any other cluster")
	f.StringVar(&cf.registry, "registry", "", "with --kubeconfig and an EFI: the registry (host[:port]/path) to push the upgrade image to, which the nodes pull from")
	f.IntVar(&c.MaxUnavailable, "max-unavailable", 1, "nodes upgraded at once")
	f.BoolVar(&c.StageOnly, "stage-only", false, "stage the new version for each node's next reboot: no drain, no reboot")
	f.BoolVar(&c.AllowDowngrade, "allow-downgrade", false, "allow a version older than the running one")
	f.IntVar(&c.Tries, "tries", 1, "boots the new version gets to pass its health gate before the loader goes back")
	f.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "per node: how long it may take from its reboot to Ready")
	f.DurationVar(&c.DrainTimeout, "drain-timeout", 10*time.Minute, "per node: how long the drain may take (PodDisruptionBudgets can hold it)")
	return cmd
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

func rollbackCommand() *cobra.Command {
	var cf clusterFlags
	var c rollout.Config
	var image string
	cmd := &cobra.Command{
		Use:   "rollback NODE",
		Short: "boot a node's previous good version",
		Long: `Boot a node's previous good version: the node is drained and reboots into
the version it ran before its last upgrade (docs/upgrade.md).`,
		Example: `  kios rollback --dir out/lab kios-00000001`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return UsageErrorf(cmd, "usage: %s [--dir DIR | --kubeconfig FILE] NODE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := cf.client()
			if err != nil {
				return fmt.Errorf("rollback: %w", err)
			}
			c.Client, c.Out, c.Image = client, cmd.OutOrStdout(), image
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := rollout.Rollback(ctx, c, args[0]); err != nil {
				return fmt.Errorf("rollback: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cf.dir, "dir", "", "a kios up lab")
	f.StringVar(&cf.kubeconfig, "kubeconfig", "", "any other cluster")
	f.StringVar(&image, "image", "localhost/kios/system:v1", "the image of the pod that asks PID 1 (any kiOS system image the node has)")
	f.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "how long the node may take from its reboot to Ready")
	f.DurationVar(&c.DrainTimeout, "drain-timeout", 10*time.Minute, "how long the drain may take")
	return cmd
}
