// Target is PID 1's side of an upgrade, acting on an ESP mounted at a
// directory (tests give it a plain one): check the image handed over the
// socket, stage it with boot counting, bless, roll back, report.

package upgrade

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/uki"
	"kios.dev/kios/internal/shared/upgrade/esp"
	"kios.dev/kios/internal/shared/upgrade/upgradesock"
)

// Errors callers branch on, beside esp's.
var (
	ErrNoRoom   = errors.New("the image does not fit on the ESP")
	ErrUnsigned = errors.New("Secure Boot is on and the image is not signed by the certificate the running image was signed with")
	ErrNoLoader = errors.New("the image carries no boot loader (built before kiOS carried systemd-boot)")
)

// slack is kept free on the ESP beyond what the files take (FAT's
// cluster rounding, directory growth).
const slack = 1 << 20

// Target is the ESP of a disk-installed node, mounted at Root.
type Target struct {
	Root       string
	Running    string // the version the node runs
	SecureBoot bool   // the firmware enforces signatures
	// Free is the space left on the filesystem at root (statfs).
	Free func(root string) (int64, error)
}

// Free is the space statfs reports available at root.
func Free(root string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", root, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

func (t Target) path(rel string) string { return filepath.Join(t.Root, filepath.FromSlash(rel)) }

// Entries are the ESP's kiOS entries; none on an ESP of the first
// layout (the image itself at the loader's path).
func (t Target) Entries() ([]esp.Entry, error) { return esp.List(t.Root) }

// Status says what is on the ESP and what boots next.
func (t Target) Status() (upgradesock.Result, error) {
	entries, err := t.Entries()
	if err != nil {
		return upgradesock.Result{}, err
	}
	return t.result(entries, nil, 0), nil
}

func (t Target) result(entries []esp.Entry, ops []string, written int64) upgradesock.Result {
	r := upgradesock.Result{Running: t.Running, Done: ops, Written: written}
	for _, e := range entries {
		r.Entries = append(r.Entries, e.Name())
	}
	if next, ok := esp.Next(entries); ok {
		r.Next = next.Name()
	}
	return r
}

// firstLayout tells whether the ESP is kios disk's first layout: no
// entries, the running image at the loader's path.
func (t Target) firstLayout(entries []esp.Entry) (bool, int64, error) {
	if len(entries) > 0 {
		return false, 0, nil
	}
	b, err := os.ReadFile(t.path(esp.LoaderFile))
	if err != nil {
		return false, 0, fmt.Errorf("the ESP has no kiOS entries and no loader: %w", err)
	}
	img, err := esp.ReadImage(b)
	if err != nil || img.Version != t.Running {
		return false, 0, fmt.Errorf("version %s: %w (and %s is not the running image)", t.Running, esp.ErrNotEntry, esp.LoaderFile)
	}
	return true, int64(len(b)), nil
}

// Stage checks img and stages it to boot next (upgradesock.Request.Tries boots to
// become healthy). Nothing is written unless every check passes; then
// each step leaves the running version bootable (esp.PlanStage).
func (t Target) Stage(img []byte, req upgradesock.Request) (upgradesock.Result, error) {
	info, err := esp.ReadImage(img)
	if err != nil {
		return upgradesock.Result{}, err
	}
	if info.Loader == nil {
		return upgradesock.Result{}, ErrNoLoader
	}
	entries, err := t.Entries()
	if err != nil {
		return upgradesock.Result{}, err
	}
	first, firstSize, err := t.firstLayout(entries)
	if err != nil {
		return upgradesock.Result{}, err
	}
	planned := entries
	if first {
		// The running image becomes an entry before anything else.
		planned = []esp.Entry{{Version: t.Running}}
	}
	stage := esp.Stage{Running: t.Running, Version: info.Version, Tries: max(req.Tries, 1), AllowDowngrade: req.AllowDowngrade}
	ops, err := esp.PlanStage(planned, stage)
	if err != nil {
		return upgradesock.Result{}, err
	}
	if t.SecureBoot {
		if err := t.checkSigned(img, info.Loader, first); err != nil {
			return upgradesock.Result{}, err
		}
	}
	loaderChanged := t.loaderDiffers(info.Loader)
	room := func(ops []esp.Op) error {
		return t.checkRoom(ops, len(img), len(info.Loader), loaderChanged, first, firstSize)
	}
	if err := room(ops); errors.Is(err, ErrNoRoom) {
		// An ESP too small for three images (kios disk's first layout)
		// gives up the older fallback if that makes room: the running
		// version stays.
		stage.RunningOnly = true
		tight, perr := esp.PlanStage(planned, stage)
		if perr != nil || room(tight) != nil {
			return upgradesock.Result{}, err
		}
		ops = tight
	} else if err != nil {
		return upgradesock.Result{}, err
	}
	var done []string
	var written int64
	if first {
		n, err := t.convert(info.Loader)
		written += n
		if err != nil {
			return t.result(entries, done, written), fmt.Errorf("convert the ESP to boot entries: %w", err)
		}
		done = append(done, "converted the ESP: the running image is now "+esp.EntriesDir+"/"+esp.Entry{Version: t.Running}.Name()+", systemd-boot at "+esp.LoaderFile)
		loaderChanged = false
	}
	for _, o := range ops {
		if err := esp.Apply(t.Root, []esp.Op{o}, bytes.NewReader(img)); err != nil {
			after, _ := t.Entries()
			return t.result(after, done, written), err
		}
		if o.Kind == esp.Write {
			written += int64(len(img))
		}
		done = append(done, o.String())
	}
	if loaderChanged {
		if err := t.writeFile(esp.LoaderFile, info.Loader); err != nil {
			after, _ := t.Entries()
			return t.result(after, done, written), fmt.Errorf("update the boot loader: %w", err)
		}
		written += int64(len(info.Loader))
		done = append(done, "updated the boot loader "+esp.LoaderFile)
	}
	after, err := t.Entries()
	return t.result(after, done, written), err
}

// checkSigned: under Secure Boot, the image and its loader must be
// signed by a certificate the running image was signed with, or the
// firmware would refuse to boot them and the node would fall back.
func (t Target) checkSigned(img, loader []byte, first bool) error {
	running := esp.EntriesDir + "/" + esp.Entry{Version: t.Running}.Name()
	if first {
		running = esp.LoaderFile
	}
	cur, err := os.ReadFile(t.path(running))
	if err != nil {
		// A running image on trial has a counter in its name: staging
		// waits for its blessing anyway (esp.ErrOnTrial).
		return fmt.Errorf("read the running image to learn its signer: %w", err)
	}
	certs, err := uki.Signers(cur)
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("%w: the running image %s carries no signature to compare with (%v)", ErrUnsigned, running, err)
	}
	for _, what := range []struct {
		name string
		b    []byte
	}{{"the image", img}, {"its boot loader", loader}} {
		if !signedByAny(what.b, certs) {
			return fmt.Errorf("%w: %s (running image signed by %s)", ErrUnsigned, what.name, subjects(certs))
		}
	}
	return nil
}

func signedByAny(b []byte, certs []*x509.Certificate) bool {
	for _, c := range certs {
		if uki.Verify(b, c) == nil {
			return true
		}
	}
	return false
}

func subjects(certs []*x509.Certificate) string {
	var s []string
	for _, c := range certs {
		s = append(s, c.Subject.String())
	}
	return strings.Join(s, ", ")
}

func (t Target) loaderDiffers(loader []byte) bool {
	cur, err := os.ReadFile(t.path(esp.LoaderFile))
	return err != nil || !bytes.Equal(cur, loader)
}

// checkRoom: the ESP's free space, with what the plan removes, has to
// hold every file the stage writes at the moment it is written.
func (t Target) checkRoom(ops []esp.Op, imgSize, loaderSize int, loaderChanged, first bool, firstSize int64) error {
	free, err := t.Free(t.Root)
	if err != nil {
		return err
	}
	need := int64(imgSize) + slack
	if loaderChanged {
		need += int64(loaderSize)
	}
	if first {
		// The running image is copied to its entry (the loader then
		// replaces the original), so the copy's room is needed at first.
		need = max(firstSize+int64(loaderSize), int64(loaderSize)+int64(imgSize)) + slack
	}
	var freed int64
	for _, o := range ops {
		if o.Kind == esp.Remove {
			if st, err := os.Stat(t.path(esp.EntriesDir + "/" + o.Name)); err == nil {
				freed += st.Size()
			}
		}
	}
	if free+freed < need {
		return fmt.Errorf("%w: it needs %d MiB and the ESP has %d MiB free (%d MiB with the entries the upgrade removes)",
			ErrNoRoom, need>>20, free>>20, (free+freed)>>20)
	}
	return nil
}

// convert turns the first layout into boot entries: the running image
// copied to its entry, loader.conf, then systemd-boot over the image at
// the loader's path. Until that last rename the firmware boots the
// image directly; after it, systemd-boot boots the same image.
func (t Target) convert(loader []byte) (int64, error) {
	src, err := os.Open(t.path(esp.LoaderFile))
	if err != nil {
		return 0, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return 0, err
	}
	if err := esp.Apply(t.Root, []esp.Op{{Kind: esp.Write, To: esp.Entry{Version: t.Running}.Name()}}, src); err != nil {
		return 0, err
	}
	if err := t.writeFile(esp.LoaderConfFile, esp.LoaderConf); err != nil {
		return st.Size(), err
	}
	if err := t.writeFile(esp.LoaderFile, loader); err != nil {
		return st.Size(), err
	}
	return st.Size() + int64(len(esp.LoaderConf)+len(loader)), nil
}

// writeFile replaces rel with b, durably (on vfat, the rename rewrites
// the one directory entry).
func (t Target) writeFile(rel string, b []byte) error {
	dst := t.path(rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return atomicfile.Durable(dst, bytes.NewReader(b))
}

// Bless renames the running image's entry to its blessed name once the
// node is healthy, and removes good entries beyond the previous one.
func (t Target) Bless() (upgradesock.Result, error) {
	return t.apply(esp.PlanBless)
}

// Rollback marks the running image's entry bad: the loader boots the
// previous good one next.
func (t Target) Rollback() (upgradesock.Result, error) {
	return t.apply(esp.PlanRollback)
}

func (t Target) apply(plan func([]esp.Entry, string) ([]esp.Op, error)) (upgradesock.Result, error) {
	entries, err := t.Entries()
	if err != nil {
		return upgradesock.Result{}, err
	}
	ops, err := plan(entries, t.Running)
	if err != nil {
		return t.result(entries, nil, 0), err
	}
	var done []string
	for _, o := range ops {
		if err := esp.Apply(t.Root, []esp.Op{o}, nil); err != nil {
			after, _ := t.Entries()
			return t.result(after, done, 0), err
		}
		done = append(done, o.String())
	}
	after, err := t.Entries()
	return t.result(after, done, 0), err
}
