package image

import (
	"fmt"
	"os"
	"path/filepath"

	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/joinspec"
)

// JoinImage is the join pod's image, primed into every image that has
// its archive (a node's configuration may ask it to join).
const JoinImage = joinspec.Image

// JoinManifest is the join pod's static manifest, at JoinManifestPath
// under /etc (0600: it holds the token); its image is JoinArchive.
func JoinManifest(p join.Params) ([]byte, error) {
	b, err := joinspec.Manifest(p, false)
	if err != nil {
		return nil, fmt.Errorf("--join: %w", err)
	}
	return b, nil
}

// JoinManifestPath is the join pod's manifest, relative to /etc.
const JoinManifestPath = "kubernetes/manifests/join.yaml"

// JoinArchive is the join pod's image archive in the parts directory.
func JoinArchive(parts string) (string, error) {
	archive := filepath.Join(parts, "extra", "join.tar")
	if _, err := os.Stat(archive); err != nil {
		return "", fmt.Errorf("join pod image: %w", err)
	}
	return archive, nil
}

// addJoin configures the join pod in the image: its manifest and its
// image archive.
func addJoin(t *Tree, parts string, p join.Params) (string, error) {
	manifest, err := JoinManifest(p)
	if err != nil {
		return "", err
	}
	archive, err := JoinArchive(parts)
	if err != nil {
		return "", err
	}
	if err := t.File("etc/"+JoinManifestPath, 0o600, manifest); err != nil {
		return "", err
	}
	return archive, nil
}
