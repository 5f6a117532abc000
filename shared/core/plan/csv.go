package plan

import (
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// CSVOptions maps a spec's CSV source options onto the decoder's.
func CSVOptions(sp *spec.Spec, maxRecord int) codec.CSVOptions {
	c := sp.Source.CSV
	d, _ := spec.CharOption(c.Delimiter)
	q, _ := spec.CharOption(c.Quote)
	cm, _ := spec.CharOption(c.Comment)
	return codec.CSVOptions{Delimiter: d, Quote: q, Comment: cm, Header: c.HasHeader(), Columns: c.Columns, KeepBOM: c.BOM == spec.BOMKeep, MaxRecordBytes: maxRecord,
		DetectCR: true}
}
