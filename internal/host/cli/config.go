package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"kios.dev/kios/internal/shared/nodeconfig"
)

func configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "check node configuration documents",
		Long: `A node's configuration is one YAML document stream: static Pods, at most one
KubeletConfiguration and at most one NodeConfig (config.kios.dev/v1alpha1).
Nodes read it at boot from a URL, a NoCloud or config-drive volume, an EC2
metadata service, their data partition or their image (docs/config.md).`,
		Args: NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE...",
		Short: "check documents with the code the node runs; prints each problem with its document and field",
		Example: `  kios config validate node.yaml
  kios config validate - < user-data`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, name := range args {
				f := os.Stdin
				if name != "-" {
					var err error
					if f, err = os.Open(name); err != nil {
						return err
					}
				}
				d, _, err := nodeconfig.Read(f)
				if name != "-" {
					f.Close()
				}
				if err != nil {
					bad++
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", name, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: valid: %s\n", name, summary(d))
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d documents are not valid", bad, len(args))
			}
			return nil
		},
	})
	return cmd
}

func summary(d *nodeconfig.Document) string {
	s := fmt.Sprintf("%d pod(s)", len(d.Pods))
	if d.Kubelet != nil {
		s += ", a KubeletConfiguration"
	}
	if d.Node != nil {
		s += ", a NodeConfig"
		if d.Node.Hostname != "" {
			s += " (hostname " + d.Node.Hostname + ")"
		}
		if d.Node.Join != nil {
			s += ", joins"
		}
	}
	return s
}
