package rollout

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"

	"kios.dev/kios/internal/host/ociimage"
	"kios.dev/kios/internal/shared/uki/ukitest"
	"kios.dev/kios/internal/shared/upgrade/upgradesock"
)

func TestFailedBoot(t *testing.T) {
	log := strings.Join([]string{
		"[   1.0] kios: t=1.000 event=boot id=aaa",
		"[   2.0] kios: t=2.000 event=boot-entry version=v2 entry=kios-v2.efi state=good",
		"[   3.0] kios: t=3.000 event=boot id=bbb",
		"[   4.0] kios: t=4.000 event=boot-entry version=v3 entry=kios-v3+0-1.efi state=trial",
		"[   5.0] kios: t=5.000 event=service-started name=kubelet pid=300 restarts=0",
		"[   6.0] kios: t=6.000 event=service-exited name=kubelet status=\"exit status 1\" ran=0.5s restart_in=1.0s",
		"[   7.0] kios: t=7.000 event=health-wait reason=\"the kubelet is not running\"",
		"[ 180.0] kios: t=180.000 event=trial-failed entry=kios-v3+0-1.efi reason=\"the kubelet is not running\"",
		"[ 181.0] kios: t=181.000 event=shutdown-start reason=trial-failed cmd=0x1234567",
		"[   1.0] kios: t=1.000 event=boot id=ccc",
		"[   2.0] kios: t=2.000 event=boot-entry version=v2 entry=kios-v2.efi state=good",
		"[   2.1] kios: t=2.100 event=upgrade-failed version=v3 entry=kios-v3+0-1.efi running=v2",
	}, "\n")
	got := FailedBoot(log, "v3")
	if len(got) != 5 || !strings.Contains(got[0], "version=v3") || !strings.Contains(got[3], "event=trial-failed") || !strings.Contains(got[4], "shutdown-start") {
		t.Errorf("FailedBoot:\n%s", strings.Join(got, "\n"))
	}
	if got := FailedBoot(log, "v9"); got != nil {
		t.Errorf("a version that never booted: %q", got)
	}
}

func TestPodResult(t *testing.T) {
	ok, _ := json.Marshal(upgradesock.Result{Running: "v1", Next: "kios-v2+1.efi", Written: 42})
	refused, _ := json.Marshal(upgradesock.Result{Running: "v2", Error: "version v2: the node already runs this version"})
	term := func(code int32, msg string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: msg}}}}}}
	}
	res, done, err := podResult(term(0, string(ok)))
	if !done || err != nil || res.Next != "kios-v2+1.efi" || res.Written != 42 {
		t.Errorf("success: %+v %t %v", res, done, err)
	}
	// The log fallback: the answer is the last line.
	_, done, err = podResult(term(1, string(refused)+"\n2026/12/05 upgrade: version v2: the node already runs this version"))
	if !done || err == nil {
		t.Errorf("refusal read from the log: done %t, err %v", done, err)
	}
	_, done, err = podResult(term(1, string(refused)))
	if !done || err == nil || !strings.Contains(err.Error(), "already runs") {
		t.Errorf("refusal: done %t, err %v", done, err)
	}
	_, done, err = podResult(&corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "not found"}}}}}})
	if !done || err == nil || !strings.Contains(err.Error(), "cannot pull") {
		t.Errorf("pull failure: done %t, err %v", done, err)
	}
	if _, done, _ := podResult(&corev1.Pod{}); done {
		t.Error("a pod that has not run yet counted as done")
	}
}

// Pack refuses what PID 1 would refuse, before anything is pushed.
func TestPackRefusesNonKios(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "system")
	os.WriteFile(bin, []byte("#!system"), 0o755)
	img, tag, err := ociimage.FromBinary(bin, "localhost/kios/system:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "system.tar")
	if err := ociimage.WriteArchive(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	notEFI := filepath.Join(dir, "x.efi")
	os.WriteFile(notEFI, []byte("MZ but not really"), 0o644)
	if _, _, err := Pack(notEFI, archive); err == nil || !strings.Contains(err.Error(), "not an EFI program") {
		t.Errorf("Pack of a non-EFI: %v", err)
	}
	if _, _, err := Pack(filepath.Join(dir, "missing.efi"), archive); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Pack of a missing file: %v", err)
	}
	if diff := cmp.Diff("kiOS v2", OSImage("v2")); diff != "" {
		t.Error(diff)
	}

	// A kiOS EFI: packed with its version as a label, at /kios.efi.
	efi := ukitest.Kios(t, "v2", []byte("loader"))
	efiPath := filepath.Join(dir, "kios.efi")
	os.WriteFile(efiPath, efi, 0o644)
	packed, version, err := Pack(efiPath, archive)
	if err != nil || version != "v2" {
		t.Fatalf("Pack = %q, %v", version, err)
	}
	cfg, _ := packed.ConfigFile()
	if cfg.Config.Labels[VersionLabel] != "v2" || strings.Join(cfg.Config.Entrypoint, " ") != "/bin/system upgrade" {
		t.Errorf("config: labels %v, entrypoint %v", cfg.Config.Labels, cfg.Config.Entrypoint)
	}
	layers, _ := packed.Layers()
	if len(layers) != 2 {
		t.Fatalf("%d layers, want the system image's and the EFI's", len(layers))
	}
	rc, _ := layers[1].Uncompressed()
	defer rc.Close()
	hdr, err := tar.NewReader(rc).Next()
	if err != nil || hdr.Name != "kios.efi" || hdr.Size != int64(len(efi)) {
		t.Errorf("EFI layer: %+v, %v", hdr, err)
	}

	// Pushed to a registry (go-containerregistry's registry server, over
	// HTTP on loopback), the image's version reads back from its label:
	// kios upgrade --to IMAGE rests on that.
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := Push(packed, host, version, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := host + "/" + Repository + ":v2"; ref != want {
		t.Errorf("Push = %q, want %q", ref, want)
	}
	if got, err := VersionOf(ref); err != nil || got != "v2" {
		t.Errorf("VersionOf(%s) = %q, %v; want v2", ref, got, err)
	}
	// An image without the label is not an upgrade image.
	plain, err := name.NewTag(host+"/kios/system:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(plain, img); err != nil {
		t.Fatal(err)
	}
	if _, err := VersionOf(plain.String()); err == nil || !strings.Contains(err.Error(), "not a kiOS upgrade image") {
		t.Errorf("VersionOf of the system image: %v, want it refused as not a kiOS upgrade image", err)
	}
	// A lab's nodes pull any registry's image from the lab registry (the
	// name kios load kept): the version is read there too.
	if got, err := VersionVia("localhost/"+Repository+":v2", host); err != nil || got != "v2" {
		t.Errorf("VersionVia(localhost/%s:v2, %s) = %q, %v; want v2", Repository, host, got, err)
	}
	if _, err := VersionOf(host + "/kios/none:v9"); err == nil {
		t.Error("VersionOf of an image the registry does not have: no error")
	}
}
