package nodeconfig

import "kios.dev/kios/internal/shared/configsrc"

// The sources and what is stored, from internal/shared/configsrc (which
// links no parser).
type (
	Source = configsrc.Source
	Stored = configsrc.Stored
	Meta   = configsrc.Meta
)

const (
	SourceURL      = configsrc.SourceURL
	SourceVolume   = configsrc.SourceVolume
	SourceMetadata = configsrc.SourceMetadata
	SourceData     = configsrc.SourceData
	SourceImage    = configsrc.SourceImage

	ImageSourcesFile = configsrc.ImageSourcesFile
	ImageCAFile      = configsrc.ImageCAFile
	ImageConfigFile  = configsrc.ImageConfigFile
	StoreFile        = configsrc.StoreFile
)

var (
	Order         = configsrc.Order
	ParseSources  = configsrc.ParseSources
	FormatSources = configsrc.FormatSources
)
