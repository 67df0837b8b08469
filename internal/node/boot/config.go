package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"kios.dev/kios/internal/node/nodecfg"
	"kios.dev/kios/internal/node/seed"
	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/configsock"
	"kios.dev/kios/internal/shared/configsrc"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/mounts"
	"kios.dev/kios/internal/shared/nodeconfig"
)

// configState is the node configuration PID 1 applied (docs/config.md).
type configState struct {
	mu       sync.Mutex        // the boot step and the config socket apply one at a time
	source   nodeconfig.Source // "" while none is applied
	hostname string
	modules  []string
	// kubeletChanged: the last apply changed a file the kubelet reads
	// only at its start.
	kubeletChanged bool
}

// candidate is one source's answer.
type candidate struct {
	source nodeconfig.Source
	doc    *nodeconfig.Document
	raw    []byte
	meta   nodecfg.Meta
}

// trustedSources reads the list the image was built with (kios build
// --config-sources); an image without one trusts every source.
func trustedSources(root string) ([]nodeconfig.Source, error) {
	b, err := os.ReadFile(filepath.Join(root, nodeconfig.ImageSourcesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nodeconfig.Order, nil
	}
	if err != nil {
		return nil, err
	}
	return nodeconfig.ParseSources(string(b))
}

// config applies the node's configuration from the local sources, in
// their order: a seed volume, the data partition's stored document, the
// image's own. The network sources answer later, through the config pod.
// A source that answers with a bad document is refused with one line
// naming it, and the next source is tried; the node never stops here.
func (n *Node) config(ctx context.Context) error {
	trusted, err := trustedSources("/")
	if err != nil {
		// The image is signed; a list it cannot read trusts nothing but
		// the image's own document.
		events.Emit(n.Log, events.ConfigRefused, "source", "image", "err", fmt.Errorf("/%s: %w", nodeconfig.ImageSourcesFile, err))
		trusted = nil
	}
	trusts := func(s nodeconfig.Source) bool { return slices.Contains(trusted, s) }
	var stored *nodeconfig.Stored
	if n.dataDevice != "" && trusts(nodeconfig.SourceData) {
		s, err := configsrc.Load(mounts.DataDir)
		switch {
		case err == nil:
			stored = &s
		case !errors.Is(err, configsrc.ErrNoneStored):
			events.Emit(n.Log, events.ConfigRefused, "source", nodeconfig.SourceData, "err", err)
		}
	}
	var tries []func() (*candidate, error)
	if trusts(nodeconfig.SourceVolume) {
		tries = append(tries, n.configFromVolume)
	}
	if stored != nil {
		tries = append(tries, func() (*candidate, error) {
			doc, err := nodeconfig.Parse([]byte(stored.Document))
			return &candidate{source: nodeconfig.SourceData, doc: doc, meta: stored.Meta}, err
		})
	}
	tries = append(tries, configFromImage)
	defer n.networkSources(trusted)
	n.cfg.mu.Lock()
	defer n.cfg.mu.Unlock()
	for _, try := range tries {
		c, err := try()
		if c == nil && err == nil {
			continue // the source is not there
		}
		if err != nil {
			src := nodeconfig.Source("?")
			if c != nil {
				src = c.source
			}
			events.Emit(n.Log, events.ConfigRefused, "source", src, "err", err)
			continue
		}
		if c.source == nodeconfig.SourceData {
			// What a source answered at an earlier boot; it did not
			// answer now (or is a network source, which answers later).
			events.Emit(n.Log, events.ConfigKept, "from", stored.Source, "instance", stored.Meta.InstanceID, "applied", stored.Applied.Format(time.RFC3339))
		}
		return n.applyConfig(c)
	}
	events.Emit(n.Log, events.ConfigNone, "trusted", nodeconfig.FormatSources(trusted))
	if ip := n.Cmdline.IP; ip != nil && ip.Static.IsValid() {
		// No configuration, but ip= gives the node its address: the
		// kubelet's node IP.
		root := n.configRoot()
		if _, err := nodecfg.Apply(root, nil, nodecfg.Meta{}, ip); err != nil {
			events.Emit(n.Log, events.ConfigRefused, "source", "ip=", "err", err)
		}
	}
	return nil
}

// configFromVolume reads a NoCloud or config-drive volume; nil, nil when
// there is none.
func (n *Node) configFromVolume() (*candidate, error) {
	open := func(name string) (io.ReaderAt, io.Closer, error) {
		f, err := os.Open("/dev/" + name)
		return f, f, err
	}
	v, err := seed.Find("/sys/class/block", open)
	if errors.Is(err, seed.ErrNone) {
		return nil, nil
	}
	c := &candidate{source: nodeconfig.SourceVolume}
	if err != nil {
		return c, err
	}
	if err := n.openModules(); err != nil {
		return c, err
	}
	if v.FS == "vfat" {
		n.probeModules(vfatModules...)
	} else {
		n.probeModules("isofs")
	}
	if err := n.Mounter.Mount(mounts.Seed(v.Device, v.FS)); err != nil {
		return c, fmt.Errorf("mount %s (%s, %s): %w", v.Device, v.Label, v.FS, err)
	}
	s, rerr := seed.Read(mounts.SeedDir, v.Kind)
	if err := n.Mounter.Unmount(mounts.SeedDir); err != nil {
		events.Emit(n.Log, events.MountFailed, "target", mounts.SeedDir, "err", err)
	}
	if rerr != nil {
		return c, fmt.Errorf("%s %s: %w", v.Kind, v.Device, rerr)
	}
	c.raw, c.meta = s.UserData, nodecfg.Meta{InstanceID: s.InstanceID, Hostname: s.Hostname}
	if c.doc, err = nodeconfig.Parse(s.UserData); err != nil {
		return c, fmt.Errorf("%s %s user-data: %w", v.Kind, v.Device, err)
	}
	return c, nil
}

// configFromImage reads the document kios build --config FILE baked in.
func configFromImage() (*candidate, error) {
	b, err := os.ReadFile("/" + nodeconfig.ImageConfigFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	c := &candidate{source: nodeconfig.SourceImage}
	if err != nil {
		return c, err
	}
	c.doc, err = nodeconfig.Parse(b)
	return c, err
}

// configRoot is where configurations are applied.
func (n *Node) configRoot() string {
	if n.ConfigRoot == "" {
		return "/"
	}
	return n.ConfigRoot
}

// applyConfig writes c's files, stores it when it came from a source
// that may not answer next time, and records what PID 1 still does with
// it (the hostname, the modules).
func (n *Node) applyConfig(c *candidate) error {
	root := n.configRoot()
	res, err := nodecfg.Apply(root, c.doc, c.meta, n.Cmdline.IP)
	if err != nil {
		// Files already replaced stay; the error names the one that failed.
		return fmt.Errorf("apply the %s configuration: %w", c.source, err)
	}
	n.cfg.source, n.cfg.hostname, n.cfg.modules, n.cfg.kubeletChanged = c.source, res.Hostname, res.Modules, res.Kubelet()
	stored := "no"
	if c.raw != nil && n.dataDevice != "" && c.source.Rank() < nodeconfig.SourceData.Rank() {
		err := configsrc.Store(mounts.DataDir, nodeconfig.Stored{Source: c.source, Meta: c.meta, Applied: time.Now().UTC(), Document: string(c.raw)})
		if err != nil {
			events.Emit(n.Log, events.ConfigStoreErr, "source", c.source, "err", err)
		} else {
			stored = "yes"
		}
	}
	if c.source == nodeconfig.SourceData {
		stored = "kept"
	}
	events.Emit(n.Log, events.ConfigApplied, "source", c.source, "instance", c.meta.InstanceID,
		"hostname", res.Hostname, "pods", len(c.doc.Pods), "changed", len(res.Changed), "stored", stored,
		"files", strings.Join(res.Changed, ","))
	return nil
}

// networkSources starts what the network sources need: the config
// socket and the config pod, when the image trusts a source that may
// answer here (a kios.config= URL; a metadata service where the
// firmware says one exists). Otherwise the pod's manifest is removed,
// so a node that needs neither runs neither.
func (n *Node) networkSources(trusted []nodeconfig.Source) {
	var ask []nodeconfig.Source
	for _, s := range trusted {
		if s == nodeconfig.SourceURL && n.Cmdline.ConfigURL != "" ||
			s == nodeconfig.SourceMetadata && nodecfg.MetadataPlausible("/sys/class/dmi/id", n.Cmdline.Metadata) {
			ask = append(ask, s)
		}
	}
	if len(ask) == 0 {
		if err := os.Remove("/" + nodecfg.FetchManifest); err != nil && !errors.Is(err, os.ErrNotExist) {
			events.Emit(n.Log, events.ConfigRefused, "source", "network", "err", err)
		}
		return
	}
	ln, err := configsock.Listen(filepath.Join(configsock.SocketDir, configsock.SocketName))
	if err == nil {
		Go(n.Log, "config-socket", func() { _ = configsock.Serve(ln, n) })
		_, caErr := os.Stat("/" + nodeconfig.ImageCAFile)
		err = atomicfile.Write("/"+nodecfg.FetchManifest, nodecfg.FetchPod(ask, caErr == nil), 0o644)
	}
	if err != nil {
		events.Emit(n.Log, events.ConfigRefused, "source", nodeconfig.FormatSources(ask), "err", fmt.Errorf("start the config pod: %w", err))
	}
}

// ApplyConfig applies what a network source answered (the config pod,
// over the config socket), unless a source before it in the order
// answered already. A refused document changes nothing.
func (n *Node) ApplyConfig(req configsock.Request) (configsock.Result, error) {
	if req.Source != nodeconfig.SourceURL && req.Source != nodeconfig.SourceMetadata {
		return configsock.Result{}, fmt.Errorf("source %q is not a network source", req.Source)
	}
	if req.Failed != "" {
		// The source did not answer (the pod's own words, which name no
		// credential: fetch redacts URLs).
		events.Emit(n.Log, events.ConfigRefused, "source", req.Source, "err", req.Failed)
		return configsock.Result{Reason: "logged"}, nil
	}
	doc, err := nodeconfig.Parse([]byte(req.Document))
	if err != nil {
		events.Emit(n.Log, events.ConfigRefused, "source", req.Source, "err", err)
		return configsock.Result{}, err
	}
	n.cfg.mu.Lock()
	defer n.cfg.mu.Unlock()
	if n.cfg.source != "" && n.cfg.source.Rank() < req.Source.Rank() {
		reason := fmt.Sprintf("the %s configuration comes first", n.cfg.source)
		events.Emit(n.Log, events.ConfigKept, "from", n.cfg.source, "not", req.Source, "reason", reason)
		return configsock.Result{Reason: reason}, nil
	}
	before := n.cfg.hostname
	if err := n.applyConfig(&candidate{source: req.Source, doc: doc, raw: []byte(req.Document), meta: req.Meta}); err != nil {
		events.Emit(n.Log, events.ConfigRefused, "source", req.Source, "err", err)
		return configsock.Result{}, err
	}
	if h := n.cfg.hostname; h != "" && h != before {
		if err := n.setHostname(h); err != nil {
			events.Emit(n.Log, events.ConfigRefused, "source", req.Source, "err", err)
		}
	}
	if len(n.cfg.modules) > 0 && n.openModules() == nil {
		n.probeModules(n.cfg.modules...)
	}
	if n.cfg.kubeletChanged {
		if err := n.RestartKubelet(); err != nil {
			events.Emit(n.Log, events.ConfigRefused, "source", req.Source, "err", fmt.Errorf("restart the kubelet: %w", err))
		}
	}
	return configsock.Result{Applied: true}, nil
}
