package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"kios.dev/kios/internal/host/disk"
	"kios.dev/kios/internal/shared/join"
)

func diskCommand() *cobra.Command {
	var o disk.Options
	var jp join.Params
	var size, parts string
	cmd := &cobra.Command{
		Use:   "disk -o FILE",
		Short: "write a bootable disk image (GPT, EFI System Partition, data partition)",
		Long: `Write a bootable disk image: a GPT disk with the kiOS EFI in its EFI System
Partition and a data partition that keeps the node's state, /etc overlay
and primed images across reboots and upgrades (docs/disk.md).`,
		Example: `  kios disk --efi node.efi --size 8G -o disk.img
  kios vm --disk disk.img`,
		Args: NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Output == "" {
				return UsageErrorf(cmd, "disk: -o FILE is required")
			}
			if jp.API != "" || jp.Token != "" || jp.CAHash != "" {
				o.Join = &jp
			}
			n, err := disk.ParseSize(size)
			if err != nil {
				return err
			}
			o.Size = n
			if err := disk.Write(o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kios disk: wrote %s (%s, %s)\n", o.Output, size, o.Format)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&size, "size", "8G", "disk size (bytes, or with M or G)")
	f.StringVar(&o.EFI, "efi", DefaultOutput(), "the kiOS EFI to put in the EFI System Partition")
	f.StringVar(&o.Config, "config", "", "node configuration FILE stored on the data partition (docs/config.md), or a DIR laid at /meta/etc")
	f.StringArrayVar(&o.Images, "image", nil, "image archive to prime on the data partition (imported at the first boot); repeatable")
	f.StringVar(&o.Format, "format", "raw", "raw or qcow2")
	f.StringVarP(&o.Output, "output", "o", "", "disk image to write")
	f.StringVar(&parts, "parts", DefaultParts(), "unused: the join pod's image is the system pods', in the EFI")
	_ = f.MarkDeprecated("parts", "the join pod's image is in every EFI; --parts is not needed")
	f.StringVar(&jp.API, "join", "", "API server host:port to join (with --token and --ca-cert-hash), as kubeadm join; kept on the data partition")
	f.StringVar(&jp.Token, "token", "", "bootstrap token for --join")
	f.StringVar(&jp.CAHash, "ca-cert-hash", "", "sha256:HEX pin of the cluster CA for --join")
	return cmd
}
