package lab

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"kios.dev/kios/internal/host/fat"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/shared/nodeconfig"
)

// SeedSize is a NoCloud volume's size: FAT16's smallest is 2 MiB, and a
// document is at most 1 MiB.
const SeedSize = 4 << 20

// SeedVolume writes a NoCloud seed at path, as cloud-localds makes one:
// a FAT volume labelled CIDATA with user-data and meta-data.
func SeedVolume(path string, userData []byte, instanceID, hostname string) error {
	m := map[string]string{"instance-id": instanceID}
	if hostname != "" {
		m["local-hostname"] = hostname
	}
	meta, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("seed volume: %w", err)
	}
	if err := f.Truncate(SeedSize); err != nil {
		f.Close()
		return fmt.Errorf("seed volume: %w", err)
	}
	err = fat.Write(f, SeedSize, "CIDATA", []fat.File{{Path: "user-data", Data: userData}, {Path: "meta-data", Data: meta}})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seed volume %s: %w", path, err)
	}
	return nil
}

// NodeConfig is a lab node's configuration: its name, the lab's join
// and the lab registry as the mirror of every registry.
func (e *Env) NodeConfig(hostname string) nodeconfig.NodeConfig {
	return nodeconfig.NodeConfig{
		APIVersion: nodeconfig.APIVersion, Kind: nodeconfig.Kind,
		Hostname:        hostname,
		Join:            &nodeconfig.Join{APIServer: labnet.Gateway.String() + ":6443", Token: e.Token, CACertHashes: []string{e.CAHash}},
		RegistryMirrors: map[string][]string{"_default": {"http://" + RegistryLab}},
	}
}
