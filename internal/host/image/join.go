package image

import (
	"fmt"

	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/joinspec"
)

// JoinImage is the join pod's image: the system pods' (system join).
const JoinImage = joinspec.Image

// JoinManifest is the join pod's static manifest, at JoinManifestPath
// under /etc (0600: it holds the token).
func JoinManifest(p join.Params) ([]byte, error) {
	b, err := joinspec.Manifest(p, false)
	if err != nil {
		return nil, fmt.Errorf("--join: %w", err)
	}
	return b, nil
}

// JoinManifestPath is the join pod's manifest, relative to /etc.
const JoinManifestPath = "kubernetes/manifests/join.yaml"

// addJoin configures the join pod in the image: its manifest (its image
// is the system pods', primed in every image).
func addJoin(t *Tree, p join.Params) error {
	manifest, err := JoinManifest(p)
	if err != nil {
		return err
	}
	return t.File("etc/"+JoinManifestPath, 0o600, manifest)
}
