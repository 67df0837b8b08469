package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/uki"
)

// refused is OVMF's line when image verification fails.
const refused = `BdsDxe: failed to load Boot\d+ .*: (Access Denied|Security Violation)`

// TestSecureBoot boots under OVMF with Secure Boot enforced (Debian's
// snakeoil firmware, whose db holds the snakeoil test key): a disk
// installed from an EFI signed by `kios build --sign-key` boots through
// the systemd-boot it carries, signed with it, into a locked-down kernel
// that still loads its modules, and PID 1 refuses an upgrade that is
// unsigned or signed by another key; an unsigned EFI, and a signed one
// with one byte of .initrd or .cmdline changed, are refused; and a boot
// loader cannot change the signed image's kernel command line.
func TestSecureBoot(t *testing.T) {
	vmtest.Need(t, "boots VMs")
	vmtest.Parallel(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "db.key")
	if out, err := exec.Command("openssl", "pkcs8", "-in", vm.SnakeOilKey, "-passin", "pass:snakeoil", "-out", key).CombinedOutput(); err != nil {
		t.Fatalf("decrypt the snakeoil key (Debian's ovmf): %v\n%s", err, out)
	}
	// The test image (the inspector among its pods), signed.
	signed, err := buildTestImage(dir, "--sign-key", key, "--sign-cert", vm.SnakeOilCert)
	if err != nil {
		t.Fatalf("kios build --sign-key: %v", err)
	}
	img, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(section string) string {
		off, size, err := uki.SectionRange(img, section)
		if err != nil {
			t.Fatal(err)
		}
		b := append([]byte(nil), img...)
		b[off+size/2] ^= 0x01
		p := filepath.Join(dir, "tampered"+section+".efi")
		os.WriteFile(p, b, 0o644)
		return p
	}

	t.Run("signed disk install boots locked down, refuses unsigned upgrades", func(t *testing.T) {
		disk := filepath.Join(dir, "disk.img")
		if out, err := exec.Command(need(t, "out/kios"), "disk", "--efi", signed, "--size", "2G", "-o", disk).CombinedOutput(); err != nil {
			t.Fatalf("kios disk: %v\n%s", err, out)
		}
		inspPort := vmtest.FreePort(t)
		insp := fmt.Sprintf("http://127.0.0.1:%d", inspPort)
		v := vmtest.Boot(t, vm.Config{Disk: disk, SecureBoot: true, Forwards: []vm.Forward{{Host: inspPort, Guest: 9090}}})
		v.ExpectAnywhere(`Secure Boot is enabled`, 3*time.Minute)
		v.ExpectAnywhere(`Kernel is locked down from EFI Secure Boot`, time.Minute)
		v.ExpectEventAnywhere(events.BootEntry.With("version", "0.1.0", "entry", "kios-0.1.0.efi", "state", "good", "device", "/dev/vda1", "secure_boot", "true"), 3*time.Minute)
		done := v.ExpectEventAnywhere(like(events.HardwareDone, "failed", re(`\d+`)), 2*time.Minute)
		if done.Get("failed") != "0" {
			t.Errorf("hardware steps failed under lockdown: %s", done)
		}
		v.ExpectEventAnywhere(like(events.ModulesLoaded, "listed", re(`\d+`), "coldplug", re(`[1-9]\d*`)), time.Minute)
		v.ExpectEventAnywhere(like(events.ContainerStarted, "pod", re(`network-.*`)), 3*time.Minute)
		stranger := otherSigner(t)
		for name, image := range map[string][]byte{
			"unsigned":              smallUKI(t, "9.0.0"),
			"signed by another key": signWith(t, smallUKI(t, "9.0.0"), stranger),
		} {
			var a upgradeAnswer
			vmtest.Eventually(t, "the upgrade socket", 3*time.Minute, func() (err error) {
				a, err = askUpgrade(insp, "op=stage", image)
				return err
			})
			if !strings.Contains(a.Error, "not signed by the certificate the running image was signed with") {
				t.Errorf("an %s upgrade on a Secure Boot node: PID 1 answered %q", name, a.Error)
			}
		}
		if a, err := askUpgrade(insp, "op=status", nil); err != nil || len(a.Result.Entries) != 1 {
			t.Errorf("entries after the refusals: %+v, %v; want the one installed", a, err)
		}
	})
	for name, efi := range map[string]string{
		"unsigned image":               need(t, "out/kios-amd64.efi"),
		"signed with .initrd changed":  tamper(".initrd"),
		"signed with .cmdline changed": tamper(".cmdline"),
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			v := vmtest.Boot(t, vm.Config{EFI: efi, SecureBoot: true})
			v.ExpectAnywhere(refused, 3*time.Minute)
			for _, l := range v.Lines() {
				if strings.Contains(l.Text, "Linux version") {
					t.Errorf("the kernel started: %s", l.Text)
				}
			}
			v.Kill()
		})
	}

	// systemd-boot passes an entry's options to the EFI it starts; the
	// stub takes them only when Secure Boot is off.
	bootloader := func(t *testing.T, sign bool) string {
		esp := t.TempDir()
		sdboot, err := filepath.Glob(filepath.Join(root, "build/cache/stub-*/root/usr/lib/systemd/boot/efi/systemd-bootx64.efi"))
		if err != nil || len(sdboot) == 0 {
			t.Fatal("systemd-bootx64.efi missing under build/cache: run `make components`")
		}
		b, err := os.ReadFile(sdboot[0])
		if err != nil {
			t.Fatal(err)
		}
		if sign {
			k, c, err := uki.LoadSigner(key, vm.SnakeOilCert)
			if err != nil {
				t.Fatal(err)
			}
			if b, err = uki.Sign(b, k, c); err != nil {
				t.Fatal(err)
			}
		}
		os.MkdirAll(filepath.Join(esp, "EFI", "BOOT"), 0o755)
		os.MkdirAll(filepath.Join(esp, "loader", "entries"), 0o755)
		os.WriteFile(filepath.Join(esp, "EFI", "BOOT", "BOOTX64.EFI"), b, 0o644)
		os.WriteFile(filepath.Join(esp, "kios.efi"), img, 0o644)
		os.WriteFile(filepath.Join(esp, "loader", "loader.conf"), []byte("timeout 0\ndefault kios.conf\n"), 0o644)
		os.WriteFile(filepath.Join(esp, "loader", "entries", "kios.conf"),
			[]byte("title kiOS\nefi /kios.efi\noptions console=ttyS0,115200n8 kios.injected=1\n"), 0o644)
		return esp
	}
	t.Run("command line cannot be changed under Secure Boot", func(t *testing.T) {
		v := vmtest.Boot(t, vm.Config{ESP: bootloader(t, true), SecureBoot: true})
		line := v.ExpectAnywhere(`Kernel command line: `, 3*time.Minute)
		if strings.Contains(line, "kios.injected") || !strings.Contains(line, "printk.devkmsg=on") {
			t.Errorf("kernel command line under Secure Boot: %s", line)
		}
		v.Kill()
	})
	t.Run("without Secure Boot the same loader does change it", func(t *testing.T) {
		v := vmtest.Boot(t, vm.Config{ESP: bootloader(t, false)})
		line := v.ExpectAnywhere(`Kernel command line: `, 3*time.Minute)
		if !strings.Contains(line, "kios.injected=1") {
			t.Errorf("the loader's options did not reach the kernel, so the check above proves nothing: %s", line)
		}
		v.Kill()
	})
}

type keyPair struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// otherSigner is a key the firmware and the node do not trust.
func otherSigner(t *testing.T) keyPair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "not the node's db key"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return keyPair{key, cert}
}

func signWith(t *testing.T, img []byte, k keyPair) []byte {
	t.Helper()
	b, err := uki.Sign(img, k.key, k.cert)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
