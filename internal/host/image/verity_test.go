package image

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/go-dmverity/pkg/verity"

	"kios.dev/kios/internal/shared/rootimg"
)

// TestHashTree: the tree appended to an image verifies against its root
// hash with go-dmverity's own verifier, has rootimg's size, and a byte
// flipped in the image or the tree fails the check.
func TestHashTree(t *testing.T) {
	for _, blocks := range []int{1, 3, 129, 300} {
		img := filepath.Join(t.TempDir(), "root.squashfs")
		data := make([]byte, blocks*rootimg.BlockSize)
		for i := range data {
			data[i] = byte(i * 7)
		}
		binary.LittleEndian.PutUint32(data, 0x73717368)
		binary.LittleEndian.PutUint64(data[40:], uint64(len(data)-100)) // padded by mksquashfs
		if err := os.WriteFile(img, data, 0o644); err != nil {
			t.Fatal(err)
		}
		root, err := appendHashTree(img)
		if err != nil {
			t.Fatalf("%d blocks: %v", blocks, err)
		}
		st, _ := os.Stat(img)
		if got, want := uint64(st.Size()), uint64(len(data))+rootimg.TreeSize(uint64(len(data))); got != want {
			t.Errorf("%d blocks: image with tree is %d bytes, want %d", blocks, got, want)
		}
		p := treeParams(uint64(len(data)))
		if err := verity.Verify(&p, img, img, root); err != nil {
			t.Errorf("%d blocks: go-dmverity's Verify: %v", blocks, err)
		}
		for _, at := range []int64{int64(len(data) - 1), st.Size() - 1} {
			flip(t, img, at)
			p := treeParams(uint64(len(data)))
			if err := verity.Verify(&p, img, img, root); err == nil {
				t.Errorf("%d blocks: a byte flipped at %d of %d passed", blocks, at, st.Size())
			}
			flip(t, img, at)
		}
	}
	img := filepath.Join(t.TempDir(), "odd.squashfs")
	os.WriteFile(img, make([]byte, 5000), 0o644)
	if _, err := appendHashTree(img); err == nil {
		t.Error("an image that is not squashfs was given a tree")
	}
}

func flip(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}
